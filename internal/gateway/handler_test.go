package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// fakeScaler records scale calls; onScale runs after each change.
type fakeScaler struct {
	mu       sync.Mutex
	replicas map[types.NamespacedName]int32
	calls    atomic.Int32
	onScale  func(key types.NamespacedName, to int32)
}

func (s *fakeScaler) ScaleIf(_ context.Context, key types.NamespacedName, want int32, cond func(int32) bool) (int32, bool, error) {
	s.calls.Add(1)
	s.mu.Lock()
	from := s.replicas[key]
	if !cond(from) {
		s.mu.Unlock()
		return from, false, nil
	}
	s.replicas[key] = want
	s.mu.Unlock()
	if s.onScale != nil {
		go s.onScale(key, want)
	}
	return from, true, nil
}

// runnerStub plays a runner pod: it echoes what it received as JSON.
func runnerStub(t *testing.T) (*httptest.Server, int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case resources.ReadyPath:
			return
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":"function raised ZeroDivisionError","status":500}`))
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body),
			"xff": r.Header.Get("X-Forwarded-For"), "xfhost": r.Header.Get("X-Forwarded-Host"),
			"hop": r.Header.Get("X-Hop"), "function": r.Header.Get("X-Faas-Function"),
		})
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return srv, p
}

func testConfig(port int) Config {
	return Config{
		ListenAddr: ":0", DefaultNamespace: "default", MaxBodyBytes: 1024, HoldTimeout: 5 * time.Second,
		MaxWaiting: 100, ProbeInterval: time.Millisecond, IdleCheckInterval: time.Second, RunnerPort: port,
	}
}

func testFunction(name string) *faasv1.Function {
	return &faasv1.Function{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: faasv1.FunctionSpec{
			Runtime: faasv1.RuntimePython, Code: "x", MinReplicas: 0, MaxReplicas: 3, Concurrency: 10, TimeoutSeconds: 5, IdleTimeoutSeconds: 60,
		},
	}
}

func slice(fn string, ready bool, ips ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "fn-" + fn + "-abc",
			Labels: map[string]string{resources.FunctionLabel: fn}},
	}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)},
		})
	}
	return s
}

func newTestGateway(t testing.TB, port int, scaler Scaler) (*Gateway, http.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	metrics := NewMetrics()
	gw := New(ctx, testConfig(port), scaler, fakePods{}, metrics, logr.Discard())
	return gw, routes(gw, metrics)
}

func do(h http.Handler, method, target, body string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestWarmCallIsProxiedWithPathQueryBodyAndHeaders(t *testing.T) {
	_, port := runnerStub(t)
	gw, h := newTestGateway(t, port, &fakeScaler{replicas: map[types.NamespacedName]int32{}})
	gw.OnFunction(testFunction("hello"))
	gw.OnEndpointSlice(slice("hello", true, "127.0.0.1"), false)

	rec := do(h, "POST", "/invoke/hello/a/b?x=1&y=2", "payload",
		http.Header{"Connection": {"X-Hop"}, "X-Hop": {"secret"}})
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"method": "POST", "path": "/a/b", "query": "x=1&y=2", "body": "payload", "hop": "",
		"xff": "192.0.2.1", "xfhost": "example.com", "function": "default/hello",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("runner saw %s = %q, want %q", k, got[k], v)
		}
	}
	if n := testutil.ToFloat64(gw.metrics.calls.WithLabelValues("default/hello", "200")); n != 1 {
		t.Errorf("calls metric = %v, want 1", n)
	}
}

func TestErrorsAreJSONWithTheRightStatus(t *testing.T) {
	_, port := runnerStub(t)
	gw, h := newTestGateway(t, port, &fakeScaler{replicas: map[types.NamespacedName]int32{}})
	gw.OnFunction(testFunction("hello"))
	gw.OnEndpointSlice(slice("hello", true, "127.0.0.1"), false)
	gw.OnFunction(testFunction("down"))
	gw.OnEndpointSlice(slice("down", true, "127.0.0.2"), false) // nothing listens there

	cases := []struct {
		name, method, target, body string
		header                     http.Header
		status                     int
		errorHas                   string
	}{
		{"unknown function", "GET", "/invoke/nope", "", nil, 404, "no Function default/nope"},
		{"bad name", "GET", "/invoke/No_Such", "", nil, 400, "not a function name"},
		{"dot segments", "GET", "/invoke/hello/a/%2e%2e/b", "", nil, 400, "dot segments"},
		{"body over the limit", "POST", "/invoke/hello", strings.Repeat("x", 2048), nil, 413, "limit is 1024"},
		{"pod unreachable", "GET", "/invoke/down", "", nil, 502, "function pod unreachable"},
		{"handler error passes through", "GET", "/invoke/hello/fail", "", nil, 500, "ZeroDivisionError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(h, tc.method, tc.target, tc.body, tc.header)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not JSON: %q", rec.Body)
			}
			if body.Status != tc.status || !strings.Contains(body.Error, tc.errorHas) {
				t.Errorf("body = %+v, want status %d and error containing %q", body, tc.status, tc.errorHas)
			}
		})
	}
}

func TestEndpointsSeenBeforeTheirFunctionAreKept(t *testing.T) {
	_, port := runnerStub(t)
	gw, h := newTestGateway(t, port, &fakeScaler{replicas: map[types.NamespacedName]int32{}})
	gw.OnEndpointSlice(slice("hello", true, "127.0.0.1"), false)
	if rec := do(h, "GET", "/invoke/hello", "", nil); rec.Code != 404 {
		t.Errorf("before its Function is known: %d, want 404", rec.Code)
	}
	gw.OnFunction(testFunction("hello"))
	if rec := do(h, "GET", "/invoke/hello", "", nil); rec.Code != 200 {
		t.Errorf("after: %d %s, want 200 from the pod seen first", rec.Code, rec.Body)
	}
}

func TestChunkedBodyOverLimitIs413(t *testing.T) {
	_, port := runnerStub(t)
	gw, _ := newTestGateway(t, port, &fakeScaler{replicas: map[types.NamespacedName]int32{}})
	gw.OnFunction(testFunction("hello"))
	gw.OnEndpointSlice(slice("hello", true, "127.0.0.1"), false)
	srv := httptest.NewServer(routes(gw, gw.metrics))
	defer srv.Close()
	// An io.Reader of unknown length is sent chunked, without Content-Length.
	req, _ := http.NewRequest("POST", srv.URL+"/invoke/hello", io.MultiReader(strings.NewReader(strings.Repeat("y", 4096))))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 413 {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("status = %d (%s), want 413", resp.StatusCode, b)
	}
}

func TestColdCallScalesUpOnceAndIsAnsweredWhenThePodIsReady(t *testing.T) {
	_, port := runnerStub(t)
	scaler := &fakeScaler{replicas: map[types.NamespacedName]int32{}}
	gw, h := newTestGateway(t, port, scaler)
	// The "operator": a scale-up makes a pod whose slice is not ready yet;
	// the gateway's own probe finds it ready.
	scaler.onScale = func(key types.NamespacedName, to int32) {
		if to > 0 {
			// The pod comes up once all 50 calls are held.
			f := gw.lookup(key)
			eventuallyTrue(t, func() bool {
				f.mu.Lock()
				defer f.mu.Unlock()
				return f.waiting == 50
			})
			gw.OnEndpointSlice(slice(key.Name, false, "127.0.0.1"), false)
		}
	}
	gw.OnFunction(testFunction("hello"))

	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for range 50 {
		wg.Go(func() { codes <- do(h, "GET", "/invoke/hello", "", nil).Code })
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a cold call got %d", c)
		}
	}
	if n := scaler.calls.Load(); n != 1 {
		t.Errorf("scale calls = %d, want 1", n)
	}
	if n := testutil.ToFloat64(gw.metrics.coldStarts.WithLabelValues("default/hello", "deployment")); n != 50 {
		t.Errorf("cold starts = %v, want 50", n)
	}
}

func TestIdlerScalesDownOnlyWhenEveryPodIsIdle(t *testing.T) {
	var inFlight atomic.Int32
	stats := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(podStats{InFlight: int(inFlight.Load()), IdleSeconds: 120})
	}))
	defer stats.Close()
	_, port, _ := net.SplitHostPort(stats.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	key := types.NamespacedName{Namespace: "default", Name: "hello"}
	scaler := &fakeScaler{replicas: map[types.NamespacedName]int32{key: 1}}
	gw, _ := newTestGateway(t, p, scaler)
	fn := testFunction("hello")
	fn.Spec.Replicas = ptr.To[int32](1)
	gw.OnFunction(fn)
	gw.OnEndpointSlice(slice("hello", true, "127.0.0.1"), false)
	f := gw.lookup(key)
	f.mu.Lock()
	f.lastActivity = time.Now().Add(-2 * time.Minute)
	f.mu.Unlock()

	inFlight.Store(1) // another gateway replica has a call on the pod
	gw.scaleDownIfIdle(context.Background(), f)
	if scaler.replicas[key] != 1 {
		t.Fatal("scaled down while a pod had a call in flight")
	}
	inFlight.Store(0)
	gw.scaleDownIfIdle(context.Background(), f)
	if scaler.replicas[key] != 0 {
		t.Fatal("did not scale an idle function down")
	}
}

// fakePods accepts every pod change.
type fakePods struct{}

func (fakePods) Patch(context.Context, string, string, []byte) error { return nil }
func (fakePods) Delete(context.Context, string, string) error        { return nil }

func portOf(t testing.TB, srv *httptest.Server) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func discardLog() logr.Logger { return logr.Discard() }

func resourceQuantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// eventuallyTrue waits up to 5 s for cond.
func eventuallyTrue(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
