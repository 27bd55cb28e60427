//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// The faas CLI's exit codes (internal/cli/exitcode.go), as a script sees them.
const (
	exitUsage         = 2
	exitNotFound      = 3
	exitFunctionError = 4
	exitFailed        = 5
	exitUnreachable   = 6
	exitBuildFailed   = 8
)

var (
	faasBuild sync.Once
	faasPath  string
	faasErr   error
)

// faasBin builds cmd/faas once, next to the operator and gateway binaries
// TestMain built (their folder is removed when the tests end).
func faasBin(t *testing.T) string {
	t.Helper()
	faasBuild.Do(func() {
		faasPath = filepath.Join(filepath.Dir(operatorBin), "faas")
		build := exec.Command("go", "build", "-o", faasPath, "./cmd/faas")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			faasErr = fmt.Errorf("build faas: %v\n%s", err, out)
		}
	})
	if faasErr != nil {
		t.Fatal(faasErr)
	}
	return faasPath
}

// faasResult is one run of the CLI.
type faasResult struct {
	code        int
	out, stderr string
}

// runFaas runs the CLI with the test's KUBECONFIG in dir, with extra
// environment variables ("K=V") and stdin.
func runFaas(t *testing.T, dir, stdin string, env []string, args ...string) faasResult {
	t.Helper()
	cmd := exec.Command(faasBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := faasResult{out: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run faas %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("$ faas %s  → exit %d\n%s%s", strings.Join(args, " "), res.code, res.out, res.stderr)
	return res
}

// faas runs the CLI and fails the test unless it exits 0.
func faas(t *testing.T, args ...string) faasResult {
	t.Helper()
	res := runFaas(t, "", "", nil, args...)
	if res.code != 0 {
		t.Fatalf("faas %s: exit %d", strings.Join(args, " "), res.code)
	}
	return res
}

// faasExit runs the CLI and fails the test unless it exits with code.
func faasExit(t *testing.T, code int, args ...string) faasResult {
	t.Helper()
	res := runFaas(t, "", "", nil, args...)
	if res.code != code {
		t.Fatalf("faas %s: exit %d, want %d", strings.Join(args, " "), res.code, code)
	}
	return res
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// echoCode answers with what it was called with, and logs each call.
const echoCode = `import os

def handle(req):
    print("call", req.method, req.path, flush=True)
    return {"method": req.method, "path": req.path, "query": req.query,
            "header": req.headers.get("x-test"), "body": req.text,
            "greeting": os.environ.get("GREETING"), "version": 1}
`

// TestCLIDeployFromAFolderAndAFile: faas init makes a folder whose test
// passes with plain python3; faas deploy creates the Function from it (the
// name and env from faas.yaml) and waits until it is ready at zero; a
// single file deploys under its own name with flags; list shows both.
func TestCLIDeployFromAFolderAndAFile(t *testing.T) {
	ensurePlatform(t)
	ns := newNamespace(t, "cli")
	dir := filepath.Join(t.TempDir(), "greeter")
	faas(t, "init", "greeter", "--dir", dir)
	if py, err := exec.LookPath("python3"); err == nil {
		test := exec.Command(py, "-m", "unittest")
		test.Dir = dir
		test.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
		if out, err := test.CombinedOutput(); err != nil {
			t.Errorf("the scaffolded test fails: %v\n%s", err, out)
		}
	}

	res := faas(t, "deploy", dir, "-n", ns)
	wantContains(t, "deploy", res.out, "function greeter in "+ns+": created", "ready: scaled to zero")
	fn := getFunction(t, ns, "greeter")
	if len(fn.Spec.Env) != 1 || fn.Spec.Env[0].Name != "GREETING" || fn.Spec.Handler != "handle" {
		t.Errorf("spec from faas.yaml = %+v", fn.Spec)
	}
	if res := faas(t, "deploy", dir, "-n", ns); !strings.Contains(res.out, "greeter in "+ns+": unchanged") {
		t.Errorf("redeploying the same folder:\n%s", res.out)
	}

	file := filepath.Join(t.TempDir(), "echo_fn.py")
	writeFile(t, file, echoCode)
	res = faas(t, "deploy", file, "-n", ns, "--max", "2", "--timeout", "10s", "--env", "GREETING=hi")
	wantContains(t, "deploy", res.out, "function echo-fn in "+ns+": created")
	fn = getFunction(t, ns, "echo-fn")
	if fn.Spec.Code != echoCode || fn.Spec.MaxReplicas != 2 || fn.Spec.TimeoutSeconds != 10 {
		t.Errorf("spec from a single file = %+v", fn.Spec)
	}
	list := faas(t, "list", "-n", ns, "-o", "wide")
	wantContains(t, "list", list.out, "echo-fn", "greeter", "ScaledToZero", "/invoke/greeter."+ns)
	var managed bool
	for _, m := range fn.ManagedFields {
		managed = managed || (m.Manager == "faas" && m.Operation == "Apply")
	}
	if !managed {
		t.Errorf("the Function was not server-side applied by field manager faas: %+v", fn.ManagedFields)
	}
}

// invokeJSON invokes and decodes the echo function's answer.
func invokeJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	res := faas(t, append([]string{"invoke"}, args...)...)
	var answer map[string]any
	if err := json.Unmarshal([]byte(res.out), &answer); err != nil {
		t.Fatalf("answer %q: %v", res.out, err)
	}
	return answer
}

// TestCLIUpdateCodeAndEnvAndInvoke: a deployed function is called with a
// body, headers, a method and a sub-path, first through a port-forward
// faas opens itself, then through $FAAS_GATEWAY; after a code and env
// change, deploy says what changed, waits for the new code and the next
// call sees it.
func TestCLIUpdateCodeAndEnvAndInvoke(t *testing.T) {
	gateway := ensurePlatform(t)
	ns := newNamespace(t, "cli")
	dir := filepath.Join(t.TempDir(), "echo")
	writeFile(t, filepath.Join(dir, "handler.py"), echoCode)
	writeFile(t, filepath.Join(dir, "faas.yaml"), "env:\n  GREETING: hello\n")
	faas(t, "deploy", dir, "-n", ns, "--min", "1")

	// Through the port-forward faas opens to svc/faas-gateway.
	answer := invokeJSON(t, "echo", "-n", ns, "-X", "PUT", "-d", "the body", "-H", "X-Test: 42", "--path", "/items/3?full=1", "-v")
	want := map[string]any{"method": "PUT", "path": "/items/3", "query": map[string]any{"full": "1"}, "header": "42",
		"body": "the body", "greeting": "hello", "version": float64(1)}
	if fmt.Sprint(answer) != fmt.Sprint(want) {
		t.Errorf("answer = %v\nwant     %v", answer, want)
	}

	// New code and env: deploy shows both and waits for the new pods.
	writeFile(t, filepath.Join(dir, "handler.py"), strings.Replace(echoCode, `"version": 1`, `"version": 2`, 1))
	res := faas(t, "deploy", dir, "-n", ns, "--min", "1", "--env", "GREETING=bonjour")
	wantContains(t, "deploy", res.out, "updated", "code ", "changed: 1 line added, 1 line removed", "env ", "changed GREETING", "ready:")

	// Through $FAAS_GATEWAY, with the body from stdin.
	res = runFaas(t, "", "from stdin", []string{"FAAS_GATEWAY=" + gateway}, "invoke", "echo", "-n", ns, "-d", "@-")
	if res.code != 0 {
		t.Fatalf("invoke through $FAAS_GATEWAY: exit %d", res.code)
	}
	if err := json.Unmarshal([]byte(res.out), &answer); err != nil {
		t.Fatal(err)
	}
	if answer["version"] != float64(2) || answer["greeting"] != "bonjour" || answer["method"] != "POST" || answer["body"] != "from stdin" {
		t.Errorf("after the update: %v", answer)
	}

	// A function that is not there, and one answering an error.
	faasExit(t, exitNotFound, "invoke", "nope", "-n", ns, "--gateway", gateway)
	writeFile(t, filepath.Join(dir, "handler.py"), "def handle(req):\n    return 418, {'X-Why': 'teapot'}, 'short and stout'\n")
	faas(t, "deploy", dir, "-n", ns, "--min", "1")
	res = faasExit(t, exitFunctionError, "invoke", "echo", "-n", ns, "--gateway", gateway, "-v")
	wantContains(t, "invoke of a 418", res.out, "short and stout")
	wantContains(t, "invoke -v of a 418", res.stderr, "< X-Why: teapot", "the function answered 418")
}

// TestCLILogsFollowSeesANewPod: logs -f started while the function runs no
// pod prints the line of a call served by the pod that call started.
func TestCLILogsFollowSeesANewPod(t *testing.T) {
	gateway := ensurePlatform(t)
	ns := newNamespace(t, "cli")
	file := filepath.Join(t.TempDir(), "logger.py")
	writeFile(t, file, echoCode)
	faas(t, "deploy", file, "-n", ns)
	if n := len(functionPods(t, ns, "logger")); n != 0 {
		t.Fatalf("logger runs %d pods before any call", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, faasBin(t), "logs", "logger", "-n", ns, "-f")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	following := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Logf("logs -f stderr: %s", sc.Text())
			if strings.HasPrefix(sc.Text(), "following the pods of function logger") {
				close(following)
			}
		}
	}()
	select {
	case <-following:
	case <-time.After(30 * time.Second):
		t.Fatal("logs -f did not start following")
	}

	faas(t, "invoke", "logger", "-n", ns, "--gateway", gateway, "--path", "/marker-1")
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("logs -f ended")
			}
			t.Logf("logs -f: %s", line)
			if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "] call GET /marker-1") {
				// Ctrl-C is how logs -f ends: exit 0.
				if err := cmd.Process.Signal(os.Interrupt); err != nil {
					t.Fatal(err)
				}
				if err := cmd.Wait(); err != nil {
					t.Errorf("logs -f after Ctrl-C: %v, want exit 0", err)
				}
				return
			}
		case <-deadline:
			t.Fatal("logs -f never printed the call's line from the new pod")
		}
	}
}

// TestCLIListAndDescribeShowALoadFailure: code that does not load fails
// deploy with its file and line; list and describe show the failure.
func TestCLIListAndDescribeShowALoadFailure(t *testing.T) {
	ensurePlatform(t)
	ns := newNamespace(t, "cli")
	dir := filepath.Join(t.TempDir(), "broken")
	writeFile(t, filepath.Join(dir, "handler.py"), "import os\n\ndef handle(req)\n    return 1\n")
	res := faasExit(t, exitFailed, "deploy", dir, "-n", ns, "--min", "1")
	handler := filepath.Join(dir, "handler.py")
	wantContains(t, "deploy of broken code", res.stderr,
		handler+", line 3:\n    def handle(req)\n",
		"error: the function's code failed to load: SyntaxError: expected ':' ("+handler+", line 3)")

	list := faas(t, "list", "-n", ns)
	wantContains(t, "list", list.out, "broken", "LoadFailed")
	desc := faas(t, "describe", "broken", "-n", ns)
	wantContains(t, "describe", desc.out, "Status:      LoadFailed", "Last load error:", "SyntaxError: expected ':' (function.py, line 3)",
		"fn-broken-deploy-", "Events:")
}

// TestCLIDeleteRemovesEverything: delete waits until the Function, its
// Deployment, Service, ConfigMap and pods are gone. Its pod need not be
// ready, so this runs on any runner image.
func TestCLIDeleteRemovesEverything(t *testing.T) {
	ensurePlatform(t)
	ns := newNamespace(t, "cli")
	file := filepath.Join(t.TempDir(), "doomed.py")
	writeFile(t, file, echoCode)
	res := faas(t, "deploy", file, "-n", ns, "--min", "1", "--no-wait")
	wantContains(t, "deploy --no-wait", res.out, "function doomed in "+ns+": created")
	eventually(t, 60*time.Second, "doomed has a pod", func() error {
		if len(functionPods(t, ns, "doomed")) == 0 {
			return fmt.Errorf("no pod yet")
		}
		return nil
	})
	desc := faas(t, "describe", "doomed", "-n", ns)
	wantContains(t, "describe", desc.out, "Name:        doomed", "Conditions:", "fn-doomed-deploy-", "deployment")

	res = faas(t, "delete", "doomed", "-n", ns)
	wantContains(t, "delete", res.out, "function doomed in "+ns+": deleted", "gone, with its objects and pods")
	ctx := context.Background()
	for name, obj := range map[string]client.Object{
		"doomed": &faasv1.Function{}, "fn-doomed-deploy": &appsv1.Deployment{},
		"fn-doomed": &corev1.Service{}, "fn-doomed-code": &corev1.ConfigMap{},
	} {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s after delete: %v", obj, name, err)
		}
	}
	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{resources.FunctionLabel: "doomed"}); err != nil || len(pods.Items) > 0 {
		t.Errorf("pods after delete: %d, %v", len(pods.Items), err)
	}
	faasExit(t, exitNotFound, "delete", "doomed", "-n", ns)
	faas(t, "delete", "doomed", "-n", ns, "--ignore-not-found")
}

// TestCLIErrors: each failure is one line and its documented exit code.
func TestCLIErrors(t *testing.T) {
	ensurePlatform(t)
	ns := newNamespace(t, "cli")
	file := filepath.Join(t.TempDir(), "fn.py")
	writeFile(t, file, echoCode)

	res := faasExit(t, exitUsage, "deploy", file, "-n", ns, "--min", "3", "--max", "2", "--no-wait")
	wantContains(t, "invalid settings", res.stderr, "error: invalid settings: spec.minReplicas", "must not be greater than spec.maxReplicas")
	res = faasExit(t, exitNotFound, "describe", "nope", "-n", ns)
	wantContains(t, "describe nope", res.stderr, `error: no function "nope" in namespace "`+ns+`"`)
	faasExit(t, exitNotFound, "logs", "nope", "-n", ns)
	res = faasExit(t, exitUnreachable, "invoke", "nope", "-n", ns, "--gateway", "http://127.0.0.1:1")
	wantContains(t, "unreachable gateway", res.stderr, "error: cannot reach the gateway at http://127.0.0.1:1")
	res = faasExit(t, exitUsage, "deploy", file, "--name", "Not_A_Name")
	wantContains(t, "bad name", res.stderr, "must consist of lower-case letters")

	// A kubeconfig whose API server does not answer.
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	writeFile(t, kc, `apiVersion: v1
kind: Config
current-context: dead
contexts: [{name: dead, context: {cluster: dead, user: u}}]
clusters: [{name: dead, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
`)
	res = faasExit(t, exitUnreachable, "list", "--kubeconfig", kc)
	wantContains(t, "dead API server", res.stderr, "error: cannot reach the Kubernetes API server at https://127.0.0.1:1")
	if n := strings.Count(res.stderr, "\n"); n != 1 {
		t.Errorf("the error is %d lines, want 1:\n%s", n, res.stderr)
	}
	res = faasExit(t, exitUnreachable, "list", "--kubeconfig", filepath.Join(t.TempDir(), "absent"))
	wantContains(t, "missing kubeconfig", res.stderr, "error: no Kubernetes cluster configured: --kubeconfig ")
}
