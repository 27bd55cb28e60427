package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/registrytest"
)

// The registry these tests push to is the one the platform ships
// (internal/registrytest), with htpasswd credentials, as the operator
// configures it. Only the port-forward is left out: deploy reaches it
// through $FAAS_REGISTRY, the way around the port-forward a user has too.
func TestMain(m *testing.M) { registrytest.Main(m) }

func packagesSecret(user, password string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: registryNamespace, Name: registrySecret},
		Data:       map[string][]byte{registryUsernameKey: []byte(user), registryPasswordKey: []byte(password)},
	}
}

func TestDeployPushesToTheRegistry(t *testing.T) {
	reg := registrytest.Start(t)
	addr, user, password := reg.Addr, reg.Username, reg.Password
	h := newHarness(t, withObjects(packagesSecret(user, password)))
	h.getenv[RegistryEnv] = "http://" + addr
	dir := writeFolder(t, map[string]string{
		"handler.py": "from lib.util import X\n\ndef handle(req):\n    return X\n", "lib/__init__.py": "", "lib/util.py": "X = 1\n",
		"requirements.txt": reqs, "faas.yaml": "env: {A: b}\n", "__pycache__/handler.cpython-312.pyc": "",
	})
	out := h.mustRun("deploy", dir, "--no-wait")
	fn := h.function("default", "greeter")
	if fn.Spec.Package == nil || fn.Spec.Code != "" {
		t.Fatalf("spec = %+v", fn.Spec)
	}
	if !strings.Contains(out, "2 layers, ") || strings.Contains(out, "nothing new sent") {
		t.Errorf("output:\n%s", out)
	}

	// What the operator fetches: the source, by digest, with the same
	// credentials, in faas/<namespace>/<name>.
	repo := reg.Repository(t, packages.Repository("default", "greeter"))
	dest := filepath.Join(t.TempDir(), "src")
	m, err := packages.Fetch(context.Background(), repo, digest.Digest(fn.Spec.Package.Source), dest, packages.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != packages.ArtifactTypeSource {
		t.Errorf("artifact type %q", m.ArtifactType)
	}
	for name, want := range map[string]string{
		"code/lib/util.py":              "X = 1\n",
		"code/requirements.txt":         reqs,
		"requirements/requirements.txt": reqs,
	} {
		if got, err := os.ReadFile(filepath.Join(dest, packages.RootDir, name)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, left := range []string{"code/faas.yaml", "code/__pycache__"} {
		if _, err := os.Stat(filepath.Join(dest, packages.RootDir, left)); !os.IsNotExist(err) {
			t.Errorf("%s was pushed: %v", left, err)
		}
	}

	out = h.mustRun("deploy", dir, "--no-wait")
	if !strings.Contains(out, "nothing new sent") || !strings.Contains(out, ": unchanged") {
		t.Errorf("deploying the same folder again:\n%s", out)
	}

	t.Run("wrong credentials", func(t *testing.T) {
		h := newHarness(t, withObjects(packagesSecret(user, "stale")))
		h.getenv[RegistryEnv] = "http://" + addr
		if code := h.run("deploy", dir, "--no-wait"); code != ExitError {
			t.Errorf("exit %d, want %d", code, ExitError)
		}
		want := "error: the package registry refused the credentials of Secret faas-packages in faas-system (http://" + addr + ")"
		if !strings.HasPrefix(h.err.String(), want) {
			t.Errorf("stderr = %q, want it to start with %q", h.err, want)
		}
	})
}
