package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/cli/fnspec"
	"github.com/minifaas/minifaas/internal/cli/kubeconn"
	"github.com/minifaas/minifaas/internal/cli/project"
)

// TestDeploySwitchesOnARealAPIServer checks, against a real kube-apiserver
// with the Function CRD and its CEL rules, that a deploy turning inline
// code into a package removes spec.code and the reverse removes
// spec.package: by server-side apply alone when faas owns the field, and
// with a JSON patch first when another field manager owns it too, which
// the fake client does not model. It runs where KUBEBUILDER_ASSETS is set
// (make test-unit).
func TestDeploySwitchesOnARealAPIServer(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run make test-unit, which builds kube-apiserver and etcd")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := faasv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	h := &harness{t: t, client: c, out: &out, err: &errOut, getenv: map[string]string{}}
	h.env = &Env{
		In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
		Getenv: func(k string) string { return h.getenv[k] },
		Now:    func() time.Time { return testNow },
		Connect: func(*kubeconn.Flags) (*kubeconn.Conn, error) {
			return &kubeconn.Conn{Config: cfg, Namespace: "default", Host: cfg.Host, Client: c, Clientset: cs}, nil
		},
		Version: "test",
	}
	withMemoryRegistry(h)
	ctx := context.Background()

	specOf := func(h *harness, name string) faasv1.FunctionSpec {
		h.t.Helper()
		return h.function("default", name).Spec
	}
	addRequirements := func(dir string, add bool) {
		p := filepath.Join(dir, "requirements.txt")
		if !add {
			if err := os.Remove(p); err != nil {
				panic(err)
			}
			return
		}
		if err := os.WriteFile(p, []byte(reqs), 0o644); err != nil {
			panic(err)
		}
	}

	t.Run("faas owns the code", func(t *testing.T) {
		h := h.with(t)
		dir := writeFolder(t, map[string]string{"handler.py": code1, "faas.yaml": "name: mine\n"})
		h.mustRun("deploy", dir, "--no-wait")
		addRequirements(dir, true)
		got := h.mustRun("deploy", dir, "--no-wait")
		if s := specOf(h, "mine"); s.Code != "" || s.Package == nil || strings.Contains(got, "note:") {
			t.Fatalf("to a package: spec %+v\n%s", s, got)
		}
		addRequirements(dir, false)
		got = h.mustRun("deploy", dir, "--no-wait")
		if s := specOf(h, "mine"); s.Code != code1 || s.Package != nil || strings.Contains(got, "note:") {
			t.Fatalf("back inline: spec %+v\n%s", s, got)
		}
	})

	t.Run("kubectl owns the code too", func(t *testing.T) {
		h := h.with(t)
		// kubectl apply --server-side of the same code: spec.code has two
		// owners, and faas's apply alone would leave it.
		u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"code": code1}}}
		u.SetAPIVersion(faasv1.GroupVersion.String())
		u.SetKind("Function")
		u.SetNamespace("default")
		u.SetName("shared")
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
		dir := writeFolder(t, map[string]string{"handler.py": code1, "faas.yaml": "name: shared\n"})
		h.mustRun("deploy", dir, "--no-wait")

		addRequirements(dir, true)
		got := h.mustRun("deploy", dir, "--no-wait")
		if s := specOf(h, "shared"); s.Code != "" || s.Package == nil || s.Package.Module != "handler" {
			t.Fatalf("to a package: spec %+v\n%s", s, got)
		}
		if !strings.Contains(got, "note: removed spec.code, which kubectl (Apply) also set (and may set again)\n") {
			t.Errorf("output:\n%s", got)
		}

		addRequirements(dir, false)
		got = h.mustRun("deploy", dir, "--no-wait")
		if s := specOf(h, "shared"); s.Code != code1 || s.Package != nil {
			t.Fatalf("back inline: spec %+v\n%s", s, got)
		}
		if strings.Contains(got, "note:") {
			t.Errorf("a note about faas's own patch:\n%s", got)
		}
		// Another round: what the patch left owned is swapped again.
		addRequirements(dir, true)
		h.mustRun("deploy", dir, "--no-wait")
		if s := specOf(h, "shared"); s.Code != "" || s.Package == nil {
			t.Fatalf("a package again: spec %+v", s)
		}

		// Changed by someone else between the read and the patch.
		before := h.function("default", "shared")
		stale := before.DeepCopy()
		stale.ResourceVersion = "1"
		a := &app{env: h.env}
		err := a.switchCode(ctx, c, stale, fnspecBuild("shared"), false)
		if err == nil || !strings.Contains(err.Error(), "function default/shared changed while deploying: deploy again") {
			t.Errorf("switch of a stale Function = %v", err)
		}
	})
}

// with is h for the subtest t.
func (h *harness) with(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// fnspecBuild is the inline apply configuration of function name.
func fnspecBuild(name string) *unstructured.Unstructured {
	return fnspec.Build("default", project.Settings{Name: name}, code1)
}
