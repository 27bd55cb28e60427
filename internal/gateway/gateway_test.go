package gateway

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
	"github.com/minifaas/minifaas/internal/resources"
)

func TestWarmCallIsProxiedWithPathQueryBodyAndHeaders(t *testing.T) {
	p := freePorts(t)
	startPod(t, "127.0.0.11", p)
	gw := newTestGateway(t, testConfig(p))
	gw.OnFunction(testFunction("echo"))
	gw.OnEndpointSlice(slice("echo", true, "127.0.0.11"), false)

	rec := do(gw.handler, http.MethodPost, "/invoke/echo/a/b%2Fc?x=1&x=2", "hello", http.Header{"Connection": {"X-Hop"}, "X-Hop": {"1"}})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got := decode(t, rec)
	want := map[string]any{"method": "POST", "path": "/a/b/c", "query": "x=1&x=2", "body": "hello", "hop": "", "function": "default/echo"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if got["xff"] == "" {
		t.Error("X-Forwarded-For not set")
	}
	if rec.Header().Get(httpapi.ColdStartHeader) != "" {
		t.Error("a warm call is marked cold")
	}
}

func TestErrorsAreJSONWithTheRightStatus(t *testing.T) {
	p := freePorts(t)
	startPod(t, "127.0.0.12", p)
	gw := newTestGateway(t, testConfig(p))
	gw.OnFunction(testFunction("echo"))
	gw.OnEndpointSlice(slice("echo", true, "127.0.0.12"), false)
	for _, tc := range []struct {
		path, body string
		status     int
	}{
		{"/invoke/Bad_Name", "", http.StatusBadRequest},
		{"/invoke/echo/../x", "", http.StatusBadRequest},
		{"/invoke/nope", "", http.StatusNotFound},
		{"/invoke/echo.other", "", http.StatusNotFound},
		{"/invoke/echo", strings.Repeat("x", 2000), http.StatusRequestEntityTooLarge},
	} {
		rec := do(gw.handler, http.MethodPost, tc.path, tc.body, nil)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.path, rec.Code, tc.status, rec.Body)
			continue
		}
		if got := decode(t, rec); got["status"] != float64(tc.status) || got["error"] == "" {
			t.Errorf("%s: body %v", tc.path, got)
		}
	}
	// The admin endpoints are not on the public port.
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/internal/load"} {
		if rec := do(gw.handler, http.MethodGet, path, "", nil); rec.Code != http.StatusNotFound {
			t.Errorf("%s on the public port: %d, want 404", path, rec.Code)
		}
	}
}

// coldCalls sends n calls at once and returns their answers.
func coldCalls(gw *testGateway, n int, path string) []int {
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = do(gw.handler, http.MethodGet, path, "", nil).Code
		}()
	}
	wg.Wait()
	return codes
}

func TestColdBurstScalesUpOnceAndIsAnsweredWhenThePodIsReady(t *testing.T) {
	p := freePorts(t)
	startPod(t, "127.0.0.13", p)
	gw := newTestGateway(t, testConfig(p))
	fn := testFunction("cold")
	gw.OnFunction(fn)
	gw.scaler.onScale = func(types.NamespacedName, int32) {
		// The pod appears not ready yet: the gateway's own probe finds it.
		gw.OnEndpointSlice(slice("cold", false, "127.0.0.13"), false)
	}
	for i, code := range coldCalls(gw, 30, "/invoke/cold") {
		if code != http.StatusOK {
			t.Errorf("call %d: %d", i, code)
		}
	}
	if n := gw.scaler.calls.Load(); n != 1 {
		t.Errorf("%d scale-ups for one burst, want 1", n)
	}
}

func TestWaitingCallsOfADeletedFunctionAre404AtOnce(t *testing.T) {
	p := freePorts(t)
	gw := newTestGateway(t, testConfig(p))
	gw.OnFunction(testFunction("gone"))
	done := make(chan int, 5)
	for range 5 {
		go func() { done <- do(gw.handler, http.MethodGet, "/invoke/gone", "", nil).Code }()
	}
	eventually(t, "calls waiting", func() bool { return gw.entry(key("gone"), false).breaker.Stats().Waiting == 5 })
	start := time.Now()
	gw.OnFunctionDeleted("default", "gone")
	for range 5 {
		if code := <-done; code != http.StatusNotFound {
			t.Errorf("waiting call answered %d, want 404", code)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("answered after %v", d)
	}
	// A late EndpointSlice does not bring the function back.
	gw.OnEndpointSlice(slice("gone", true, "127.0.0.14"), false)
	if rec := do(gw.handler, http.MethodGet, "/invoke/gone", "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("after a late slice: %d, want 404", rec.Code)
	}
}

func key(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: "default", Name: name}
}

func loadFailed(fn *faasv1.Function) *faasv1.Function {
	fn = fn.DeepCopy()
	fn.Status.CodeHash = resources.CodeHash(fn)
	meta.SetStatusCondition(&fn.Status.Conditions, metav1.Condition{Type: faasv1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: faasv1.ReasonLoadFailed, Message: "the function's code failed to load: SyntaxError: expected ':' (function.py, line 1)"})
	return fn
}

func TestLoadFailedFunctionIsAnswered503AtOnce(t *testing.T) {
	p := freePorts(t)
	gw := newTestGateway(t, testConfig(p))
	fn := testFunction("broken")
	gw.OnFunction(fn)
	done := make(chan *http.Response, 1)
	go func() { done <- do(gw.handler, http.MethodGet, "/invoke/broken", "", nil).Result() }()
	eventually(t, "call waiting", func() bool { return gw.entry(key("broken"), false).breaker.Stats().Waiting == 1 })
	// The operator reports the load failure: the waiting call is answered.
	gw.OnFunction(loadFailed(fn))
	resp := <-done
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("waiting call: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	start := time.Now()
	rec := do(gw.handler, http.MethodGet, "/invoke/broken", "", nil)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "line 1") {
		t.Fatalf("new call: %d %s", rec.Code, rec.Body)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("answered after %v", d)
	}
	// New code clears it.
	fixed := testFunction("broken")
	fixed.Spec.Code = "def handle(req):\n    return 'fixed'\n"
	fixed.Generation = 2
	gw.OnFunction(fixed)
	if err := gw.entry(key("broken"), false).Unavailable(); err != nil {
		t.Errorf("after new code: %v", err)
	}
}

func TestRefusedConnectionIsRetriedOnAnotherPodAndThePodLeavesRotation(t *testing.T) {
	p := freePorts(t)
	live := startPod(t, "127.0.0.15", p)
	dead := startPod(t, "127.0.0.16", p)
	dead.call.Close() // crashed: nothing listens on the call port
	dead.ready.Store(false)
	gw := newTestGateway(t, testConfig(p))
	gw.OnFunction(testFunction("crash"))
	gw.OnEndpointSlice(slice("crash", true, "127.0.0.15", "127.0.0.16"), false)
	for i := range 40 {
		rec := do(gw.handler, http.MethodPost, "/invoke/crash", "body", nil)
		if rec.Code != http.StatusOK || decode(t, rec)["body"] != "body" {
			t.Fatalf("call %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if n := live.calls.Load(); n != 40 {
		t.Errorf("live pod served %d calls, want 40", n)
	}
	if ready := gw.entry(key("crash"), false).tracker.Ready(); len(ready) != 1 || ready[0] != "127.0.0.15" {
		t.Errorf("ready pods %v, want only the live one", ready)
	}
}

func TestCallsHeldWhenTheOnlyPodRefusesAreServedWhenItIsBack(t *testing.T) {
	p := freePorts(t)
	pod := startPod(t, "127.0.0.17", p)
	pod.call.Close()
	pod.ready.Store(false)
	gw := newTestGateway(t, testConfig(p))
	gw.OnFunction(testFunction("restart"))
	gw.OnEndpointSlice(slice("restart", true, "127.0.0.17"), false)
	done := make(chan int, 1)
	go func() { done <- do(gw.handler, http.MethodGet, "/invoke/restart", "", nil).Code }()
	eventually(t, "pod out of rotation", func() bool { return len(gw.entry(key("restart"), false).tracker.Ready()) == 0 })
	// The runner comes back on the same address.
	pod.admin.Close()
	startPod(t, "127.0.0.17", p)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("held call answered %d", code)
	}
}

func TestFunctionScaledToZeroWhileCallsWaitIsStartedAgain(t *testing.T) {
	p := freePorts(t)
	gw := newTestGateway(t, testConfig(p))
	fn := testFunction("heal")
	gw.OnFunction(fn)
	done := make(chan int, 1)
	go func() { done <- do(gw.handler, http.MethodGet, "/invoke/heal", "", nil).Code }()
	eventually(t, "first scale-up", func() bool { return gw.scaler.calls.Load() == 1 })
	// The Function says 1 replica, then another replica scales it to zero
	// before any pod was ready.
	up := fn.DeepCopy()
	up.Spec.Replicas = new(int32)
	*up.Spec.Replicas = 1
	gw.OnFunction(up)
	gw.scaler.mu.Lock()
	gw.scaler.replicas[key("heal")] = 0
	gw.scaler.mu.Unlock()
	gw.OnFunction(fn)
	eventually(t, "second scale-up", func() bool { return gw.scaler.calls.Load() >= 2 })
	startPod(t, "127.0.0.18", p)
	gw.OnEndpointSlice(slice("heal", true, "127.0.0.18"), false)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("held call answered %d", code)
	}
}

func TestCallsAreServedInArrivalOrderWhenThePodIsFull(t *testing.T) {
	p := freePorts(t)
	pod := startPod(t, "127.0.0.19", p)
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	pod.onCall = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		order = append(order, r.URL.Query().Get("n"))
		mu.Unlock()
		<-release
	}
	gw := newTestGateway(t, testConfig(p))
	fn := testFunction("fifo")
	fn.Spec.Concurrency = 1
	gw.OnFunction(fn)
	gw.OnEndpointSlice(slice("fifo", true, "127.0.0.19"), false)
	f := gw.entry(key("fifo"), false)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(gw.handler, http.MethodGet, "/invoke/fifo?n="+string(rune('a'+i)), "", nil)
		}()
		eventually(t, "call queued", func() bool { st := f.breaker.Stats(); return st.InFlight+st.Waiting == i+1 })
	}
	for range 6 {
		release <- struct{}{}
	}
	wg.Wait()
	if got := strings.Join(order, ""); got != "abcdef" {
		t.Errorf("served in order %q, want abcdef", got)
	}
}

func TestACallerThatDoesNotReadItsAnswerLosesItsSlotAtTheDeadline(t *testing.T) {
	p := freePorts(t)
	pod := startPod(t, "127.0.0.20", p)
	big := strings.Repeat("x", 1<<20)
	pod.onCall = func(w http.ResponseWriter, r *http.Request) {
		for range 64 {
			if _, err := w.Write([]byte(big)); err != nil {
				return
			}
		}
	}
	cfg := testConfig(p)
	gw := newTestGateway(t, cfg)
	fn := testFunction("slow-reader")
	fn.Spec.TimeoutSeconds = 1
	gw.OnFunction(fn)
	gw.OnEndpointSlice(slice("slow-reader", true, "127.0.0.20"), false)
	srv := listenOn(t, "127.0.0.1", 0, gw.handler)
	conn, err := (&netDialer{}).dial(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /invoke/slow-reader HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	f := gw.entry(key("slow-reader"), false)
	eventually(t, "call in flight", func() bool { return f.breaker.Stats().InFlight == 1 })
	eventually(t, "slot released at the write deadline", func() bool { return f.breaker.Stats().InFlight == 0 })
}

var _ = context.Background
