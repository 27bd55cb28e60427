package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/packages"
)

// memoryRegistry is an in-memory store that remembers the descriptors
// pushed to it: it resolves tags only, and a manifest is found by its
// whole descriptor.
type memoryRegistry struct {
	*memory.Store
	pushed map[digest.Digest]ocispec.Descriptor
}

func (m *memoryRegistry) Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	m.pushed[d.Digest] = d
	return m.Store.Push(ctx, d, r)
}

// withMemoryRegistry makes the harness push packages to an in-memory
// store instead of reaching a registry, and returns the store and the
// repositories pushed to.
func withMemoryRegistry(h *harness) (*memoryRegistry, *[]string) {
	store := &memoryRegistry{Store: memory.New(), pushed: map[digest.Digest]ocispec.Descriptor{}}
	var repos []string
	h.env.Registry = func(_ context.Context, repository string) (content.Storage, error) {
		repos = append(repos, repository)
		return store, nil
	}
	return store, &repos
}

// noRegistry fails the test if deploy reaches for a registry.
func noRegistry(h *harness) {
	h.env.Registry = func(context.Context, string) (content.Storage, error) {
		h.t.Error("deploy reached for the package registry")
		return nil, errors.New("no registry")
	}
}

const reqs = "six==1.16.0\n"

func TestDeployInlineOrPackage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		args  []string
		pkg   bool
		why   string
	}{
		{name: "just the handler", files: map[string]string{"handler.py": code1, "faas.yaml": "max: 3\n"}},
		{name: "handler, README, tests", files: map[string]string{"handler.py": code1, "README.md": "# hi\n", "test_handler.py": "import handler\n", ".gitignore": "__pycache__/\n"}},
		{name: "requirements", files: map[string]string{"handler.py": code1, "requirements.txt": reqs}, pkg: true, why: "(it has requirements.txt)"},
		{name: "another module", files: map[string]string{"handler.py": code1, "util.py": "X = 1\n"}, pkg: true, why: "(it has other files: util.py)"},
		{name: "forced", files: map[string]string{"handler.py": code1}, args: []string{"--package"}, pkg: true, why: "(--package)"},
		{name: "too large to be inline", files: map[string]string{"handler.py": "#" + strings.Repeat("x", faasv1.MaxCodeBytes) + "\n"}, pkg: true,
			why: "(handler.py is 768 KiB, more than the 768 KiB of inline code)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var repos *[]string
			if tc.pkg {
				_, repos = withMemoryRegistry(h)
			} else {
				noRegistry(h)
			}
			dir := writeFolder(t, tc.files)
			out := h.mustRun(append([]string{"deploy", dir, "--no-wait"}, tc.args...)...)
			fn := h.function("default", "greeter")
			if !tc.pkg {
				if fn.Spec.Code != tc.files["handler.py"] || fn.Spec.Package != nil || strings.Contains(out, "package") {
					t.Errorf("spec = %+v\n%s", fn.Spec, out)
				}
				return
			}
			if fn.Spec.Code != "" || fn.Spec.Package == nil || fn.Spec.Package.Module != "handler" {
				t.Fatalf("spec = %+v", fn.Spec)
			}
			if len(*repos) != 1 || (*repos)[0] != "faas/default/greeter" {
				t.Errorf("pushed to %v, want faas/default/greeter", *repos)
			}
			for _, want := range []string{
				"package " + dir + " " + tc.why,
				"module handler\n",
				"pushed " + fn.Spec.Package.Source[:len("sha256:")+12] + " to faas/default/greeter",
				"function greeter in default: created (from package " + fn.Spec.Package.Source[:len("sha256:")+12] + " of " + dir + ")",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestDeployPushesTheSourceArtifact(t *testing.T) {
	h := newHarness(t)
	store, _ := withMemoryRegistry(h)
	dir := writeFolder(t, map[string]string{
		"app/main.py": code1, "app/__init__.py": "", "requirements.txt": reqs,
		"faas.yaml": "module: app.main\n", ".venv/bin/python": "", "app/__pycache__/main.cpython-312.pyc": "",
	})
	out := h.mustRun("deploy", dir, "--no-wait")
	fn := h.function("default", "greeter")
	if fn.Spec.Package == nil || fn.Spec.Package.Module != "app.main" {
		t.Fatalf("spec = %+v", fn.Spec)
	}
	if !strings.Contains(out, "2 layers, ") || !strings.Contains(out, " sent\n") {
		t.Errorf("output:\n%s", out)
	}
	raw := fetchManifest(t, store, fn.Spec.Package.Source)
	var m struct {
		ArtifactType string `json:"artifactType"`
		Layers       []struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != packages.ArtifactTypeSource || len(m.Layers) != 2 ||
		m.Layers[0].Annotations["org.opencontainers.image.title"] != packages.LayerCode ||
		m.Layers[1].Annotations["org.opencontainers.image.title"] != packages.LayerRequirements {
		t.Errorf("manifest = %s", raw)
	}

	// The same folder again: the same digest, nothing new sent, and the
	// Function unchanged.
	out = h.mustRun("deploy", dir, "--no-wait")
	if !strings.Contains(out, "nothing new sent") || !strings.Contains(out, ": unchanged") {
		t.Errorf("second deploy:\n%s", out)
	}
	if again := h.function("default", "greeter"); again.Spec.Package.Source != fn.Spec.Package.Source {
		t.Errorf("source %s, was %s", again.Spec.Package.Source, fn.Spec.Package.Source)
	}

	// A code change: a new source, the same requirements layer.
	if err := os.WriteFile(filepath.Join(dir, "app", "main.py"), []byte(code2), 0o644); err != nil {
		t.Fatal(err)
	}
	out = h.mustRun("deploy", dir, "--no-wait")
	changed := h.function("default", "greeter")
	if changed.Spec.Package.Source == fn.Spec.Package.Source || !strings.Contains(out, "package  source sha256:") {
		t.Errorf("after a code change: %+v\n%s", changed.Spec.Package, out)
	}
	var m2 struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	var m1 = m2
	_ = json.Unmarshal(raw, &m1)
	_ = json.Unmarshal(fetchManifest(t, store, changed.Spec.Package.Source), &m2)
	if m1.Layers[1].Digest != m2.Layers[1].Digest || m1.Layers[0].Digest == m2.Layers[0].Digest {
		t.Errorf("layers %v then %v: want a new code layer and the same requirements layer", m1.Layers, m2.Layers)
	}
}

func fetchManifest(t *testing.T, store *memoryRegistry, d string) []byte {
	t.Helper()
	desc, ok := store.pushed[digest.Digest(d)]
	if !ok || desc.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("no manifest %s was pushed: %+v", d, desc)
	}
	raw, err := content.FetchAll(context.Background(), store, desc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestDeploySwitchesBetweenInlineAndPackage(t *testing.T) {
	h := newHarness(t)
	withMemoryRegistry(h)
	dir := writeFolder(t, map[string]string{"handler.py": code1})
	h.mustRun("deploy", dir, "--no-wait")
	if fn := h.function("default", "greeter"); fn.Spec.Code != code1 || fn.Spec.Package != nil {
		t.Fatalf("inline spec = %+v", fn.Spec)
	}

	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte(reqs), 0o644); err != nil {
		t.Fatal(err)
	}
	out := h.mustRun("deploy", dir, "--no-wait")
	fn := h.function("default", "greeter")
	if fn.Spec.Code != "" || fn.Spec.Package == nil {
		t.Fatalf("after adding requirements.txt, spec = %+v", fn.Spec)
	}
	for _, want := range []string{"code     removed: the function is a package now", "package  source sha256:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	if err := os.Remove(filepath.Join(dir, "requirements.txt")); err != nil {
		t.Fatal(err)
	}
	out = h.mustRun("deploy", dir, "--no-wait")
	fn = h.function("default", "greeter")
	if fn.Spec.Code != code1 || fn.Spec.Package != nil {
		t.Fatalf("inline again, spec = %+v", fn.Spec)
	}
	for _, want := range []string{"code     inline again: 2 lines", "package  removed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDeployRefusesWhatCannotBeAPackage(t *testing.T) {
	sparse := func(t *testing.T, dir string) {
		f, err := os.Create(filepath.Join(dir, "model.bin"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(packages.DefaultMaxBytes + 1); err != nil {
			t.Fatal(err)
		}
	}
	link := func(t *testing.T, dir string) {
		if err := os.Symlink("/etc/hostname", filepath.Join(dir, "data.txt")); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		setup func(*testing.T, string)
		args  []string
		want  string
	}{
		{name: "nodejs", files: map[string]string{"handler.js": "exports.handle = () => 1\n", "package.json": "{}\n", "faas.yaml": "runtime: nodejs\nfile: handler.js\n"},
			want: "deploys as a package (it has other files: package.json), and packages are for the python runtime only"},
		{name: "nodejs by flag", files: map[string]string{"handler.py": code1, "requirements.txt": reqs}, args: []string{"--runtime", "nodejs"},
			want: "packages are for the python runtime only"},
		{name: "too large", files: map[string]string{"handler.py": code1}, setup: sparse,
			want: "deploys as a package (it has other files: model.bin) of 100.0 MiB in 2 files and folders, more than the 100.0 MiB and 50000 a package may hold"},
		{name: "a link", files: map[string]string{"handler.py": code1, "util.py": ""}, setup: link,
			want: "data.txt is a link or a special file"},
		{name: "module that is no module", files: map[string]string{"my-handler.py": code1, "util.py": "", "faas.yaml": "file: my-handler.py\n"},
			want: "my-handler.py is not a Python module name"},
		{name: "bad module flag", files: map[string]string{"handler.py": code1}, args: []string{"--module", "app/main"},
			want: `module "app/main" is not a Python module path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			noRegistry(h)
			dir := writeFolder(t, tc.files)
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			if code := h.run(append([]string{"deploy", dir, "--no-wait"}, tc.args...)...); code != ExitUsage {
				t.Errorf("exit %d, want %d\n%s", code, ExitUsage, h.err)
			}
			if !strings.Contains(h.err.String(), tc.want) || strings.Count(h.err.String(), "\n") != 1 {
				t.Errorf("stderr = %q, want one line with %q", h.err, tc.want)
			}
		})
	}

	t.Run("a single file", func(t *testing.T) {
		h := newHarness(t)
		file := filepath.Join(t.TempDir(), "f.py")
		if err := os.WriteFile(file, []byte(code1), 0o644); err != nil {
			t.Fatal(err)
		}
		if code := h.run("deploy", file, "--package"); code != ExitUsage || !strings.Contains(h.err.String(), "--package and --module deploy a folder") {
			t.Errorf("exit %d: %s", code, h.err)
		}
	})
}

// packageFunction is the Function a deploy of dir creates, with the
// status the operator gives it: PackageBuilt and Ready.
func deployThenSetStatus(t *testing.T, h *harness, dir string, set func(fn *faasv1.Function)) *faasv1.Function {
	t.Helper()
	h.mustRun("deploy", dir, "--no-wait")
	fn := h.function("default", "greeter")
	fn.Status.ObservedGeneration = fn.Generation
	set(fn)
	if err := h.client.Status().Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	return fn
}

func packageBuilt(fn *faasv1.Function, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&fn.Status.Conditions, metav1.Condition{Type: faasv1.ConditionPackageBuilt,
		Status: status, Reason: reason, Message: msg, ObservedGeneration: fn.Generation})
}

func TestDeployReportsAFailedBuild(t *testing.T) {
	pip := "pip install failed:\nERROR: Could not find a version that satisfies the requirement nosuch==1.0 (from versions: none)\nERROR: No matching distribution found for nosuch==1.0"
	h := newHarness(t)
	withMemoryRegistry(h)
	dir := writeFolder(t, map[string]string{"handler.py": code1, "requirements.txt": "nosuch==1.0\n"})
	deployThenSetStatus(t, h, dir, func(fn *faasv1.Function) {
		packageBuilt(fn, metav1.ConditionFalse, faasv1.ReasonBuildFailed, pip)
		meta.SetStatusCondition(&fn.Status.Conditions, metav1.Condition{Type: faasv1.ConditionReady,
			Status: metav1.ConditionFalse, Reason: faasv1.ReasonBuildFailed, Message: pip, ObservedGeneration: fn.Generation})
	})
	if code := h.run("deploy", dir); code != ExitBuildFailed {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitBuildFailed, h.out, h.err)
	}
	want := pip + "\nerror: the package of function greeter failed to build (BuildFailed): pip install failed (output above); fix " +
		filepath.Join(dir, "requirements.txt") + " and deploy again\n"
	if h.err.String() != want {
		t.Errorf("stderr = %q\nwant     %q", h.err, want)
	}

	t.Run("refused", func(t *testing.T) {
		deployThenSetStatus(t, h, dir, func(fn *faasv1.Function) {
			packageBuilt(fn, metav1.ConditionFalse, faasv1.ReasonPackageInvalid, "invalid package: sha256:… is not in the registry")
		})
		if code := h.run("deploy", dir); code != ExitBuildFailed {
			t.Fatalf("exit %d, want %d\n%s%s", code, ExitBuildFailed, h.out, h.err)
		}
		want := "error: the package of function greeter was refused (PackageInvalid): invalid package: sha256:… is not in the registry\n"
		if h.err.String() != want {
			t.Errorf("stderr = %q\nwant     %q", h.err, want)
		}
	})
}

func TestDeployWaitsForTheBuildThenReadiness(t *testing.T) {
	h := newHarness(t, withObjects(
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "fn-greeter-deploy"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "fn-greeter"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "fn-greeter-code"}},
	))
	withMemoryRegistry(h)
	dir := writeFolder(t, map[string]string{"handler.py": code1, "requirements.txt": reqs})
	built := "sha256:" + strings.Repeat("b", 64)
	deployThenSetStatus(t, h, dir, func(fn *faasv1.Function) {
		fn.Status.Package = &faasv1.PackageStatus{Source: fn.Spec.Package.Source, Digest: built, Dependencies: "sha256:" + strings.Repeat("d", 64)}
		packageBuilt(fn, metav1.ConditionTrue, faasv1.ReasonBuilt, "built as "+built)
		meta.SetStatusCondition(&fn.Status.Conditions, metav1.Condition{Type: faasv1.ConditionReady,
			Status: metav1.ConditionTrue, Reason: faasv1.ReasonScaledToZero, Message: "scaled to zero", ObservedGeneration: fn.Generation})
	})
	out := h.mustRun("deploy", dir)
	for _, want := range []string{
		"package built as sha256:bbbbbbbbbbbb, dependencies sha256:dddddddddddd\n",
		"ready: scaled to zero; the first call starts a pod\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s\nstderr:\n%s", want, out, h.err)
		}
	}
}

func TestDeployShowsBuildProgressAndTimesOut(t *testing.T) {
	h := newHarness(t)
	withMemoryRegistry(h)
	dir := writeFolder(t, map[string]string{"handler.py": code1, "requirements.txt": reqs})
	deployThenSetStatus(t, h, dir, func(fn *faasv1.Function) {
		packageBuilt(fn, metav1.ConditionFalse, faasv1.ReasonBuilding, "installing requirements.txt (Job faas-system/build-x)")
	})
	if code := h.run("deploy", dir, "--wait-timeout", "30ms"); code != ExitTimeout {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitTimeout, h.out, h.err)
	}
	for _, want := range []string{
		"  Building: building dependencies… installing requirements.txt (Job faas-system/build-x)\n",
		"error: the package of function greeter is not built after 30ms: Building: building dependencies…",
	} {
		if !strings.Contains(h.err.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, h.err)
		}
	}
	if n := strings.Count(h.err.String(), "Building:"); n != 2 {
		t.Errorf("the same progress printed %d times, want once (and once in the error):\n%s", n, h.err)
	}
}

func TestDeployPackageRegistryErrors(t *testing.T) {
	secret := func(data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "faas-system", Name: "faas-packages"}, Data: data}
	}
	creds := map[string][]byte{"username": []byte("faas"), "password": []byte("pw")}
	forbidden := interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if _, ok := obj.(*corev1.Secret); ok {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, key.Name, errors.New("RBAC"))
		}
		return c.Get(ctx, key, obj, opts...)
	}}
	for _, tc := range []struct {
		name string
		opts []harnessOption
		env  map[string]string
		args []string
		code int
		want string
	}{
		{name: "no Secret", code: ExitUnreachable,
			want: "no Secret faas-packages in faas-system, which holds the package registry's credentials: the operator makes it"},
		{name: "Secret not readable", opts: []harnessOption{withInterceptor(forbidden)}, code: ExitError,
			want: "you may not read Secret faas-packages in faas-system, which holds the package registry's credentials that deploying a package needs: ask a cluster admin"},
		{name: "Secret without a password", opts: []harnessOption{withObjects(secret(map[string][]byte{"username": []byte("faas")}))}, code: ExitError,
			want: "Secret faas-packages in faas-system has no username or no password"},
		{name: "no registry Service", opts: []harnessOption{withObjects(secret(creds))}, code: ExitUnreachable,
			want: "the package registry is not installed: no Service faas-registry in faas-system"},
		{name: "another registry Service", opts: []harnessOption{withObjects(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "platform", Name: "faas-packages"}, Data: creds})},
			env: map[string]string{RegistryServiceEnv: "platform/registry"}, code: ExitUnreachable,
			want: "no Service registry in platform"},
		{name: "no ready registry pod", opts: []harnessOption{withObjects(secret(creds)), withClientset(&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "faas-system", Name: "faas-registry"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app.kubernetes.io/name": "faas-registry"},
				Ports: []corev1.ServicePort{{Port: 5000}}}})}, code: ExitUnreachable,
			want: "the package registry has no ready pod (kubectl -n faas-system get pods -l app.kubernetes.io/name=faas-registry shows why)"},
		{name: "bad --registry-service", opts: []harnessOption{withObjects(secret(creds))}, args: []string{"--registry-service", "faas-registry"}, code: ExitUsage,
			want: `--registry-service "faas-registry": want the registry's Service as namespace/name`},
		{name: "bad $FAAS_REGISTRY", opts: []harnessOption{withObjects(secret(creds))}, env: map[string]string{RegistryEnv: "localhost:5000"}, code: ExitUsage,
			want: `$FAAS_REGISTRY "localhost:5000": want the registry's http:// or https:// URL`},
		{name: "unreachable --registry", opts: []harnessOption{withObjects(secret(creds))}, args: []string{"--registry", "http://127.0.0.1:1"}, code: ExitUnreachable,
			want: "cannot reach the package registry (http://127.0.0.1:1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts...)
			for k, v := range tc.env {
				h.getenv[k] = v
			}
			dir := writeFolder(t, map[string]string{"handler.py": code1, "requirements.txt": reqs})
			if code := h.run(append([]string{"deploy", dir, "--no-wait"}, tc.args...)...); code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, h.err)
			}
			if !strings.Contains(h.err.String(), tc.want) {
				t.Errorf("stderr = %q\nwant it to contain %q", h.err, tc.want)
			}
			var fn faasv1.Function
			if err := h.client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "greeter"}, &fn); !apierrors.IsNotFound(err) {
				t.Errorf("the Function was applied without its package: %v", err)
			}
		})
	}
}

func TestDeployPackageForbiddenPortForward(t *testing.T) {
	h := newHarness(t, withObjects(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "faas-system", Name: "faas-packages"},
		Data: map[string][]byte{"username": []byte("faas"), "password": []byte("pw")}}))
	h.clientset.PrependReactor("get", "services", func(k8stesting.Action) (bool, k8sruntime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "faas-registry", errors.New("RBAC: access denied"))
	})
	dir := writeFolder(t, map[string]string{"handler.py": code1, "requirements.txt": reqs})
	if code := h.run("deploy", dir, "--no-wait"); code != ExitError {
		t.Errorf("exit %d, want %d", code, ExitError)
	}
	want := "error: you may not port-forward to the package registry (svc/faas-registry in faas-system), which deploying a package needs: ask a cluster admin"
	if !strings.HasPrefix(h.err.String(), want) {
		t.Errorf("stderr = %q\nwant it to start with %q", h.err, want)
	}
}
