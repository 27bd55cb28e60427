package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/minifaas/minifaas/internal/packages"
)

// The registry these tests push to is the one the platform ships: the
// CNCF Distribution binary built from hack/cluster/registry (as the
// faas-registry image is, and as internal/packages' tests do), started
// with config/registry/config.yml and htpasswd credentials, as the
// operator configures it. Only the port-forward is left out: deploy
// reaches it through $FAAS_REGISTRY, the way around the port-forward a
// user has too.
const (
	registryModule     = "../../hack/cluster/registry"
	registryConfigFile = "../../config/registry/config.yml"
)

var (
	registryOnce sync.Once
	registryBin  string
	registryErr  error
)

// registryBinary builds the registry once per test binary; later builds
// come from the Go build cache.
func registryBinary(t *testing.T) string {
	t.Helper()
	registryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "faas-cli-registry-")
		if err != nil {
			registryErr = err
			return
		}
		registryBin = filepath.Join(dir, "registry")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", registryBin, "github.com/distribution/distribution/v3/cmd/registry")
		cmd.Dir = registryModule
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
		if out, err := cmd.CombinedOutput(); err != nil {
			registryErr = fmt.Errorf("building the registry from %s: %v\n%s", registryModule, err, out)
		}
	})
	if registryErr != nil {
		t.Fatal(registryErr)
	}
	return registryBin
}

var registryListening = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

// startRegistry runs the registry on a free loopback port, accepting user
// and password only, until the test ends; its log is shown if the test
// fails.
func startRegistry(t *testing.T, user, password string) string {
	t.Helper()
	bin := registryBinary(t)
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", registryConfigFile)
	cmd.Env = append(os.Environ(),
		"OTEL_TRACES_EXPORTER=none",
		"REGISTRY_HTTP_ADDR=127.0.0.1:0",
		"REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:0",
		"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="+filepath.Join(dir, "storage"),
		"REGISTRY_AUTH_HTPASSWD_REALM=faas-registry",
		"REGISTRY_AUTH_HTPASSWD_PATH="+htpasswd,
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex // guards log
		log    strings.Builder
		addrCh = make(chan string, 1)
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := registryListening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrCh <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("registry log:\n%s", log.String())
			mu.Unlock()
		}
	})
	select {
	case addr := <-addrCh:
		return addr
	case <-done:
		t.Fatal("the registry exited before listening")
	case <-time.After(30 * time.Second):
		t.Fatal("the registry did not listen within 30s")
	}
	return ""
}

func packagesSecret(user, password string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: registryNamespace, Name: registrySecret},
		Data:       map[string][]byte{registryUsernameKey: []byte(user), registryPasswordKey: []byte(password)},
	}
}

func TestDeployPushesToTheRegistry(t *testing.T) {
	const user, password = "faas", "s3cret-of-the-operator"
	addr := startRegistry(t, user, password)
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
	repo, err := remote.NewRepository(addr + "/" + packages.Repository("default", "greeter"))
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	repo.Client = &auth.Client{Credential: auth.StaticCredential(addr, auth.Credential{Username: user, Password: password})}
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
