//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// startOperator runs the operator out of cluster, as a user would from a
// laptop, limited to namespace ns; it is stopped when the test ends.
func startOperator(t *testing.T, ns string) {
	t.Helper()
	startProcess(t, "operator", operatorBin, "--namespace", ns, "--python-image", runnerImage,
		"--health-probe-bind-address", "0", "--metrics-bind-address", "0")
}

// startProcess runs bin with args, logging to <name>.log in the test's temp
// dir (shown when the test fails), and kills it when the test ends.
func startProcess(t *testing.T, name, bin string, args ...string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, b)
		}
	})
}

// operatorLog returns what the out-of-cluster operator logged so far.
func operatorLog(t *testing.T) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(t.TempDir(), "..", "*", "operator.log"))
	var all strings.Builder
	for _, m := range matches {
		b, _ := os.ReadFile(m)
		all.Write(b)
	}
	return all.String()
}

func getFunction(t *testing.T, ns, name string) *faasv1.Function {
	t.Helper()
	var fn faasv1.Function
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &fn); err != nil {
		t.Fatalf("get Function %s: %v", name, err)
	}
	return &fn
}

// waitReady waits until the Function's Ready condition has reason.
func waitReady(t *testing.T, ns, name, reason string, timeout time.Duration) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	eventually(t, timeout, fmt.Sprintf("Function %s Ready reason %s", name, reason), func() error {
		cond = meta.FindStatusCondition(getFunction(t, ns, name).Status.Conditions, faasv1.ConditionReady)
		if cond == nil || cond.Reason != reason {
			return fmt.Errorf("Ready = %+v", cond)
		}
		return nil
	})
	return cond
}

func functionPods(t *testing.T, ns, name string) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{resources.FunctionLabel: name}); err != nil {
		t.Fatalf("list pods: %v", err)
	}
	return pods.Items
}

func serviceURL(t *testing.T, ns, name string) string {
	t.Helper()
	var svc corev1.Service
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "fn-" + name}, &svc); err != nil {
		t.Fatalf("get Service: %v", err)
	}
	return "http://" + svc.Spec.ClusterIP + "/"
}

// waitAnswer waits until url answers want.
func waitAnswer(t *testing.T, url, want string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "answer "+want, func() error {
		got, err := get(url)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("answered %q", got)
		}
		return nil
	})
}

func TestFunctionLifecycle(t *testing.T) {
	withoutInClusterOperator(t)
	ns := newNamespace(t, "fn")
	startOperator(t, ns)
	ctx := context.Background()

	// Applied with minReplicas 0: everything exists, no pod runs.
	kubectl(t, "apply", "-n", ns, "-f", filepath.Join(repoRoot, "config", "samples", "function-hello.yaml"))
	waitReady(t, ns, "hello", faasv1.ReasonScaledToZero, 30*time.Second)
	var dep appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fn-hello-deploy"}, &dep); err != nil {
		t.Fatalf("Deployment fn-hello-deploy: %v", err)
	}
	if *dep.Spec.Replicas != 0 || len(functionPods(t, ns, "hello")) != 0 {
		t.Fatalf("a Function at minReplicas 0 must run no pod: replicas %d", *dep.Spec.Replicas)
	}

	// kubectl scale through the scale subresource: one Ready pod answers.
	kubectl(t, "scale", "-n", ns, "fn/hello", "--replicas=1")
	waitReady(t, ns, "hello", faasv1.ReasonAvailable, 60*time.Second)
	url := serviceURL(t, ns, "hello")
	waitAnswer(t, url, "hello from runner", 10*time.Second)
	if out := kubectl(t, "get", "fn", "hello", "-n", ns); !strings.Contains(out, "Available") {
		t.Errorf("kubectl get fn shows no Available status:\n%s", out)
	}
	eventually(t, 5*time.Second, "scale change logged", func() error {
		if !strings.Contains(operatorLog(t), `"from": 0, "to": 1`) {
			return fmt.Errorf("no 'Scaled function ... from 0 to 1' log line")
		}
		return nil
	})

	// A code change rolls the pods with no failed call.
	calls, failures := callContinuously(t, url)
	kubectl(t, "patch", "fn", "hello", "-n", ns, "--type=merge", "-p",
		`{"spec":{"code":"def handle(req):\n    return 'hello v2'\n"}}`)
	waitAnswer(t, url, "hello v2", 60*time.Second)
	eventually(t, 60*time.Second, "old pod gone", func() error {
		if n := len(functionPods(t, ns, "hello")); n != 1 {
			return fmt.Errorf("%d pods", n)
		}
		return nil
	})
	n, failed := calls(), failures()
	if n == 0 || len(failed) > 0 {
		t.Errorf("during the rollout %d calls, %d failed: %v", n, len(failed), failed)
	}
	t.Logf("rollout: %d calls during it, none failed", n)

	// A syntax error: Ready=False with the error; the old pod keeps serving.
	kubectl(t, "patch", "fn", "hello", "-n", ns, "--type=merge", "-p",
		`{"spec":{"code":"def handle(req)\n    return 1\n"}}`)
	cond := waitReady(t, ns, "hello", faasv1.ReasonLoadFailed, 60*time.Second)
	if cond.Status != metav1.ConditionFalse || !strings.Contains(cond.Message, "SyntaxError") || !strings.Contains(cond.Message, "line 1") {
		t.Errorf("Ready = %+v, want False naming the SyntaxError and its line", cond)
	}
	if out := kubectl(t, "describe", "fn", "hello", "-n", ns); !strings.Contains(out, "SyntaxError") {
		t.Errorf("kubectl describe fn does not show the error:\n%s", out)
	}
	if got := httpGet(t, url); got != "hello v2" {
		t.Errorf("while the new code fails to load the old pod should answer; got %q", got)
	}

	// Deleting the Function deletes everything made for it.
	kubectl(t, "delete", "fn", "hello", "-n", ns)
	eventually(t, 60*time.Second, "children deleted", func() error {
		objs := map[string]client.Object{
			"ConfigMap": &corev1.ConfigMap{}, "Deployment": &appsv1.Deployment{}, "Service": &corev1.Service{},
		}
		names := map[string]string{"ConfigMap": "fn-hello-code", "Deployment": "fn-hello-deploy", "Service": "fn-hello"}
		for kind, obj := range objs {
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: names[kind]}, obj); err == nil {
				return fmt.Errorf("%s %s still exists", kind, names[kind])
			}
		}
		if n := len(functionPods(t, ns, "hello")); n > 0 {
			return fmt.Errorf("%d pods still exist", n)
		}
		return nil
	})
}

// callContinuously calls url until the test ends and returns counters of
// calls and failures. It reuses connections, as real clients do.
func callContinuously(t *testing.T, url string) (calls func() int, failures func() []string) {
	t.Helper()
	type result struct {
		n      int
		failed []string
	}
	stop := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		var r result
		for {
			select {
			case <-stop:
				done <- r
				return
			default:
			}
			r.n++
			if _, err := get(url); err != nil {
				r.failed = append(r.failed, err.Error())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var final *result
	finish := func() result {
		if final == nil {
			close(stop)
			r := <-done
			final = &r
		}
		return *final
	}
	t.Cleanup(func() { finish() })
	return func() int { return finish().n }, func() []string { return finish().failed }
}

func TestSamples(t *testing.T) {
	withoutInClusterOperator(t)
	ns := newNamespace(t, "samples")
	startOperator(t, ns)
	for _, s := range []string{"echo", "status", "wordcount"} {
		kubectl(t, "apply", "-n", ns, "-f", filepath.Join(repoRoot, "config", "samples", "function-"+s+".yaml"))
	}
	for _, name := range []string{"echo", "teapot", "wordcount"} {
		kubectl(t, "scale", "-n", ns, "fn/"+name, "--replicas=1")
	}
	for _, name := range []string{"echo", "teapot", "wordcount"} {
		waitReady(t, ns, name, faasv1.ReasonAvailable, 60*time.Second)
	}
	cases := []struct {
		fn, method, path, body string
		status                 int
		want                   string
	}{
		{"echo", "POST", "/a/b?x=1", `{"name": "edge"}`, 200, `{"echo": {"name": "edge"}, "method": "POST", "path": "/a/b", "query": {"x": "1"}}`},
		{"echo", "POST", "/", `{broken`, 400, `request body is not valid JSON`},
		{"teapot", "GET", "/?brew=coffee", "", 418, `{"error": "I'm a teapot"}`},
		{"teapot", "GET", "/", "", 201, "tea is brewing"},
		{"wordcount", "POST", "/", "a b a c a b", 200, `{"words": 6, "top": [["a", 3], ["b", 2], ["c", 1]]}`},
	}
	for _, tc := range cases {
		t.Run(tc.fn+tc.path, func(t *testing.T) {
			base := strings.TrimSuffix(serviceURL(t, ns, tc.fn), "/")
			var status int
			var body string
			eventually(t, 10*time.Second, "call", func() error {
				var err error
				status, body, err = call(tc.method, base+tc.path, tc.body)
				return err
			})
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, status, body, tc.status, tc.want)
			}
		})
	}
}

func TestOperatorInCluster(t *testing.T) {
	ensurePlatform(t)

	ns := newNamespace(t, "incluster")
	kubectl(t, "apply", "-n", ns, "-f", filepath.Join(repoRoot, "config", "samples", "function-hello.yaml"))
	waitReady(t, ns, "hello", faasv1.ReasonScaledToZero, 30*time.Second)
	kubectl(t, "scale", "-n", ns, "fn/hello", "--replicas=1")
	waitReady(t, ns, "hello", faasv1.ReasonAvailable, 60*time.Second)
	waitAnswer(t, serviceURL(t, ns, "hello"), "hello from runner", 10*time.Second)
	if out := kubectl(t, "logs", "-n", "faas-system", "deployment/faas-operator"); !strings.Contains(out, "Scaled function") {
		t.Errorf("the in-cluster operator did not log the scale change:\n%s", out)
	}
}
