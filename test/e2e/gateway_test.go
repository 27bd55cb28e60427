//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// createFunction creates a Function in ns with the given code and options.
func createFunction(t *testing.T, ns, name, code string, mut ...func(*faasv1.Function)) {
	t.Helper()
	fn := &faasv1.Function{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       faasv1.FunctionSpec{Code: code, MaxReplicas: 3},
	}
	for _, m := range mut {
		m(fn)
	}
	if err := k8s.Create(context.Background(), fn); err != nil {
		t.Fatalf("create Function %s: %v", name, err)
	}
	if fn.Spec.MinReplicas > 0 {
		waitReady(t, ns, name, faasv1.ReasonAvailable, 90*time.Second)
		return
	}
	waitReady(t, ns, name, faasv1.ReasonScaledToZero, 30*time.Second)
}

const helloCode = "def handle(req):\n    return 'hello from runner'\n"

// TestGatewaySeedFlow is the README's quick start: the hello Function in
// the default namespace, called through `kubectl port-forward` to the
// in-cluster gateway, from zero.
func TestGatewaySeedFlow(t *testing.T) {
	ensurePlatform(t)
	kubectl(t, "apply", "-f", filepath.Join(repoRoot, "config", "samples", "function-hello.yaml"))
	t.Cleanup(func() { _, _ = kubectlRun("delete", "fn", "hello", "-n", "default", "--wait") })
	waitReady(t, "default", "hello", faasv1.ReasonScaledToZero, 30*time.Second)
	if n := len(functionPods(t, "default", "hello")); n != 0 {
		t.Fatalf("hello runs %d pods before any call", n)
	}

	pf := exec.Command("kubectl", "port-forward", "svc/faas-gateway", "18000:8000", "-n", "faas-system")
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pf.Process.Kill(); _ = pf.Wait() })
	eventually(t, 20*time.Second, "port-forward up", func() error {
		_, _, err := call("GET", "http://127.0.0.1:18000/invoke/", "")
		return err
	})

	start := time.Now()
	if got := httpGet(t, "http://127.0.0.1:18000/invoke/hello"); got != "hello from runner" {
		t.Fatalf("cold call answered %q", got)
	}
	cold := time.Since(start)
	var first []string
	eventually(t, 10*time.Second, "hello has its pod", func() error {
		first = podNames(functionPods(t, "default", "hello"))
		if len(first) != 1 {
			return fmt.Errorf("pods %v", first)
		}
		return nil
	})
	start = time.Now()
	if got := httpGet(t, "http://127.0.0.1:18000/invoke/hello"); got != "hello from runner" {
		t.Fatalf("warm call answered %q", got)
	}
	warm := time.Since(start)
	t.Logf("through port-forward: cold call %s, warm call %s", cold.Round(time.Millisecond), warm.Round(100*time.Microsecond))
	// Answered at once: by the pod the first call started, with no new one.
	if again := podNames(functionPods(t, "default", "hello")); !slices.Equal(again, first) {
		t.Errorf("the second call changed hello's pods from %v to %v", first, again)
	}
}

func podNames(pods []corev1.Pod) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// watchReplicas records every spec.replicas value the Deployment takes,
// from the value it has now on.
func watchReplicas(t *testing.T, ns, name string) func() []int32 {
	t.Helper()
	var list appsv1.DeploymentList
	w, err := k8sWatch(ns, name, &list)
	if err != nil {
		t.Fatalf("watch Deployment %s: %v", name, err)
	}
	var mu sync.Mutex
	var seen []int32
	go func() {
		for ev := range w.ResultChan() {
			dep, ok := ev.Object.(*appsv1.Deployment)
			if !ok || ev.Type == watch.Deleted || dep.Spec.Replicas == nil {
				continue
			}
			mu.Lock()
			if len(seen) == 0 || seen[len(seen)-1] != *dep.Spec.Replicas {
				seen = append(seen, *dep.Spec.Replicas)
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(w.Stop)
	replicas := func() []int32 {
		mu.Lock()
		defer mu.Unlock()
		return append([]int32(nil), seen...)
	}
	eventually(t, 10*time.Second, "watch started", func() error {
		if len(replicas()) == 0 {
			return fmt.Errorf("no event yet")
		}
		return nil
	})
	return replicas
}

func k8sWatch(ns, name string, list client.ObjectList) (watch.Interface, error) {
	wc, err := client.NewWithWatch(restCfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		return nil, err
	}
	return wc.Watch(context.Background(), list, client.InNamespace(ns),
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)})
}

// burst sends n concurrent calls and returns how many got each status.
func burst(t *testing.T, url string, n int) map[int]int {
	t.Helper()
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-startGate
			code := 0
			resp, err := c.Get(url)
			if err == nil {
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			if err != nil && codes[0] < 3 {
				t.Logf("call failed: %v", err)
			}
			codes[code]++
			mu.Unlock()
		})
	}
	close(startGate)
	wg.Wait()
	return codes
}

// TestGatewayBurstAtZeroStartsOnceThenScalesOut: 1,000 calls at zero cause
// exactly one 0→1 transition; the autoscaler then adds pods for the demand
// (up to maxReplicas), and never takes the function back to zero meanwhile.
func TestGatewayBurstAtZeroStartsOnceThenScalesOut(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "burst")
	createFunction(t, ns, "burst", helloCode)
	replicas := watchReplicas(t, ns, "fn-burst-deploy")

	start := time.Now()
	codes := burst(t, gw+"/invoke/burst."+ns, 1000)
	t.Logf("1000 concurrent calls at zero: %v in %s", codes, time.Since(start).Round(time.Millisecond))
	if codes[200] != 1000 {
		t.Errorf("status counts = %v, want 1000 × 200", codes)
	}
	time.Sleep(time.Second) // let any further scale change show up in the watch
	got := replicas()
	if len(got) < 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("Deployment replicas went %v, want one 0→1 transition first", got)
	}
	for i := 2; i < len(got); i++ {
		if got[i] < got[i-1] || got[i] > 3 {
			t.Errorf("Deployment replicas went %v: want them to only grow, up to maxReplicas 3, during the burst", got)
			break
		}
	}
	t.Logf("Deployment replicas during the burst: %v", got)
}

func TestGatewayIdleScaleToZeroAndRacingCalls(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "idle")
	createFunction(t, ns, "idle", "import time\ndef handle(req):\n    time.sleep(float(req.query.get('s', '0')))\n    return 'idle ok'\n",
		func(f *faasv1.Function) { f.Spec.IdleTimeoutSeconds = 3 })
	url := gw + "/invoke/idle." + ns
	if got := httpGet(t, url); got != "idle ok" {
		t.Fatalf("answered %q", got)
	}

	// With no calls, the function goes back to zero after its idle timeout
	// (plus the idler's one-second tick); a call right as it does is held,
	// scales it up again and is answered.
	var fn faasv1.Function
	eventually(t, 20*time.Second, "scaled to zero when idle", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "idle"}, &fn); err != nil {
			return err
		}
		if fn.Spec.Replicas == nil || *fn.Spec.Replicas != 0 {
			return fmt.Errorf("spec.replicas = %v", ptr.Deref(fn.Spec.Replicas, -1))
		}
		return nil
	})
	if got := httpGet(t, url); got != "idle ok" {
		t.Errorf("a call racing the scale-down answered %q", got)
	}

	// A call in flight while the function is scaled down finishes.
	done := make(chan error, 1)
	go func() {
		got, err := get(url + "?s=3")
		if err == nil && got != "idle ok" {
			err = fmt.Errorf("answered %q", got)
		}
		done <- err
	}()
	time.Sleep(500 * time.Millisecond)
	kubectl(t, "scale", "fn/idle", "-n", ns, "--replicas=0")
	if err := <-done; err != nil {
		t.Errorf("a call in flight during scale-down failed: %v", err)
	}
}

func TestGatewayWaitingLimitAndHoldTimeout(t *testing.T) {
	ensurePlatform(t)
	ns := newNamespace(t, "limits")
	// This gateway holds at most 5 calls for 4 s; the function can never
	// become ready, since its code does not load.
	gw := startGateway(t, ns, "--max-waiting=5", "--hold-timeout=4s")
	createFunction(t, ns, "broken", "def handle(req)\n    return 1\n")
	waitCodes := make(chan int, 5)
	bodies := make(chan errorResponse, 5)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			code, body, _ := call("GET", gw+"/invoke/broken", "")
			var e errorResponse
			_ = json.Unmarshal([]byte(body), &e)
			waitCodes <- code
			bodies <- e
		})
	}
	time.Sleep(time.Second) // the five are waiting now
	code, body, err := call("GET", gw+"/invoke/broken", "")
	// 503 either way: five calls already wait, or (if the pod failed fast
	// enough) the gateway already knows the code cannot load.
	if err != nil || code != 503 || !strings.Contains(body, "already waiting") && !strings.Contains(body, "SyntaxError") {
		t.Errorf("6th call = %d %q %v, want 503 saying calls are already waiting or naming the SyntaxError", code, body, err)
	}
	start := time.Now()
	wg.Wait()
	close(waitCodes)
	close(bodies)
	// Each held call ends by the hold timeout: 504, or 503 naming the load
	// error once the operator reported it.
	for c := range waitCodes {
		if c != 504 && c != 503 {
			t.Errorf("a held call got %d, want 504 or 503", c)
		}
	}
	for e := range bodies {
		if !(e.Status == 504 && strings.Contains(e.Error, "did not become ready")) && !(e.Status == 503 && strings.Contains(e.Error, "SyntaxError")) {
			t.Errorf("held call's body = %+v", e)
		}
	}
	if waited := time.Since(start); waited > 4*time.Second {
		t.Errorf("held calls ended %s after the 6th call; the hold timeout is 4s", waited)
	}
	// By now the pod has failed to load: callers are told at once.
	waitReady(t, ns, "broken", faasv1.ReasonLoadFailed, 30*time.Second)
	start = time.Now()
	code, body, _ = call("GET", gw+"/invoke/broken", "")
	if code != 503 || !strings.Contains(body, "SyntaxError") {
		t.Errorf("after the load failure: %d %q, want 503 naming the SyntaxError", code, body)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a LoadFailed function answered after %s, want under 1s", d)
	}
}

type errorResponse struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func TestGatewayKilledMidBurst(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "kill")
	createFunction(t, ns, "steady", helloCode, func(f *faasv1.Function) { f.Spec.IdleTimeoutSeconds = 5 })
	url := gw + "/invoke/steady." + ns

	// Callers keep their connections alive, as real clients do.
	keepAlive := &http.Client{Timeout: 5 * time.Second}
	stop := make(chan struct{})
	var mu sync.Mutex
	ok, failed := 0, 0
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if code, _, err := callWith(keepAlive, "GET", url, ""); err == nil && code == 200 {
					mu.Lock()
					ok++
					mu.Unlock()
				} else {
					mu.Lock()
					failed++
					mu.Unlock()
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	killed := strings.Fields(kubectl(t, "get", "pods", "-n", "faas-system", "-l", "app.kubernetes.io/name=faas-gateway",
		"-o", "jsonpath={.items[*].status.podIP}"))
	// kube-proxy clears the conntrack entries of removed endpoints for UDP
	// only: half-open TCP entries towards the killed pods would send a later
	// connection from a reused source port to a dead address for two minutes.
	// Later tests must not inherit that, so they are dropped here.
	t.Cleanup(func() {
		for _, ip := range killed {
			_ = exec.Command("conntrack", "-D", "--reply-src", ip).Run()
		}
	})
	kubectl(t, "delete", "pod", "-n", "faas-system", "-l", "app.kubernetes.io/name=faas-gateway", "--grace-period=0", "--force")
	kubectl(t, "rollout", "status", "deployment/faas-gateway", "-n", "faas-system", "--timeout=60s")
	mu.Lock()
	okBefore := ok
	mu.Unlock()
	eventually(t, 20*time.Second, "the new gateway answers the burst", func() error {
		mu.Lock()
		defer mu.Unlock()
		if ok <= okBefore {
			return fmt.Errorf("no call answered since the restart")
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("calls during the burst: %d answered (%d after the restart), %d failed while no gateway ran", ok, ok-okBefore, failed)
	if got := httpGet(t, url); got != "hello from runner" {
		t.Errorf("after the restart the gateway answered %q", got)
	}
	var fn faasv1.Function
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "steady"}, &fn); err != nil {
		t.Fatal(err)
	}
	if r := ptr.Deref(fn.Spec.Replicas, 0); r < 1 {
		t.Errorf("the function was scaled down while called: replicas %d", r)
	}
	// Not stuck up: the new gateway's idler (once it holds the lease the
	// killed one never released, 15 s) scales the idle function to zero.
	eventually(t, 45*time.Second, "idle function back to zero", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "steady"}, &fn); err != nil {
			return err
		}
		if r := ptr.Deref(fn.Spec.Replicas, 0); r != 0 {
			return fmt.Errorf("replicas %d", r)
		}
		return nil
	})
}
