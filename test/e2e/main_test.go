//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// Images the tests run; hack/images.sh load puts them into the cluster.
const (
	runnerImage   = "faas-python-runner:dev"
	operatorImage = "faas-operator:dev"
	smokeImage    = "smoke-http:dev"
)

var (
	k8s      client.Client
	restCfg  *rest.Config
	repoRoot string
	// operatorBin and gatewayBin are built for running out of cluster.
	operatorBin, gatewayBin string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("KUBECONFIG") == "" {
		fmt.Fprintln(os.Stderr, "KUBECONFIG is not set: run `make test-e2e`, which starts the local cluster")
		return 1
	}
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Join(filepath.Dir(file), "..", "..")
	scheme := k8sruntime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = faasv1.AddToScheme(scheme)
	cfg, err := config.GetConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load kubeconfig:", err)
		return 1
	}
	cfg.QPS, cfg.Burst = 200, 400
	restCfg = cfg
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "create client:", err)
		return 1
	}
	if out, err := kubectlRun("apply", "--server-side", "--force-conflicts", "-k", filepath.Join(repoRoot, "config", "crd")); err != nil {
		fmt.Fprintln(os.Stderr, "apply CRD:", err, out)
		return 1
	}
	if out, err := kubectlRun("wait", "--for=condition=Established", "crd/functions.faas.example.com", "--timeout=30s"); err != nil {
		fmt.Fprintln(os.Stderr, "wait for CRD:", err, out)
		return 1
	}
	dir, err := os.MkdirTemp("", "faas-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	operatorBin, gatewayBin = filepath.Join(dir, "operator"), filepath.Join(dir, "gateway")
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/operator", "./cmd/gateway")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintln(os.Stderr, "build operator and gateway:", err, string(out))
		return 1
	}
	return m.Run()
}

// kubectlRun runs kubectl with the test's KUBECONFIG and returns its output.
func kubectlRun(args ...string) (string, error) {
	cmd := exec.Command("kubectl", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// kubectl runs kubectl and fails the test if it fails.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectlRun(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// kubectlStdin runs kubectl with stdin.
func kubectlStdin(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("kubectl", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNamespace makes a namespace that is deleted when the test ends.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := prefix + "-" + hex.EncodeToString(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := kubectlRun("get", "all,functions,events", "-n", name, "-o", "wide")
			t.Logf("namespace %s at failure:\n%s", name, out)
		}
		// Wait until the namespace is gone, so the next test does not run
		// while this one's pods are still draining and terminating.
		_, _ = kubectlRun("delete", "namespace", name, "--wait", "--timeout=90s")
	})
	return name
}

// eventually retries check every interval until it returns nil or timeout.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (after %s): %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
