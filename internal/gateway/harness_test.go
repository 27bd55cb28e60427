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
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
	"github.com/minifaas/minifaas/internal/resources"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// fakeScaler records scale calls; onScale runs after each change.
type fakeScaler struct {
	mu       sync.Mutex
	replicas map[types.NamespacedName]int32
	calls    atomic.Int32
	onScale  func(key types.NamespacedName, to int32)
}

func newFakeScaler() *fakeScaler { return &fakeScaler{replicas: map[types.NamespacedName]int32{}} }

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

// fakePods records pool pod writes; like the API, it takes none once
// the write's context is done.
type fakePods struct {
	// onPatch, if set, is told of each patch as it is taken.
	onPatch func(pod string)

	mu      sync.Mutex
	patched []string
	deleted []string
}

func (p *fakePods) Patch(ctx context.Context, ns, name string, _ []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.onPatch != nil {
		p.onPatch(ns + "/" + name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.patched = append(p.patched, ns+"/"+name)
	return nil
}

func (p *fakePods) patchedPods() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.patched...)
}

func (p *fakePods) Delete(ctx context.Context, ns, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deleted = append(p.deleted, ns+"/"+name)
	return nil
}

func (p *fakePods) deletedPods() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.deleted...)
}

// ports are the runner ports every fake pod of a test listens on, on its
// own loopback address (127.0.0.x).
type ports struct{ call, admin int }

func freePorts(t testing.TB) ports {
	t.Helper()
	var out [2]int
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	return ports{call: out[0], admin: out[1]}
}

// fakePod plays a runner pod at ip: its call port echoes the call as JSON
// (or runs onCall), its admin port answers readiness, stats and
// specialization like a runner.
type fakePod struct {
	ip               string
	call, admin      *httptest.Server
	ready            atomic.Bool
	calls            atomic.Int32
	onCall           func(w http.ResponseWriter, r *http.Request)
	specializeStatus atomic.Int32
	specializeBody   atomic.Pointer[string]
	specializations  atomic.Int32
	// specialized is set once a specialization was accepted; its stats
	// then say so, as a runner's do.
	specialized atomic.Bool
	// specializeDelay holds the answer to a specialization this long.
	specializeDelay atomic.Int64
	// lastSpecialization is the body of the last specialization and its
	// runnerapi.SpecLengthHeader, "<header>|<body>".
	lastSpecialization atomic.Pointer[string]
	// refuseCompiled answers 400 to a specialization carrying compiled
	// code, as a runner older than runnerapi.SpecLengthHeader does.
	refuseCompiled atomic.Bool
}

func startPod(t testing.TB, ip string, p ports) *fakePod {
	t.Helper()
	pod := &fakePod{ip: ip}
	pod.ready.Store(true)
	pod.specializeStatus.Store(http.StatusOK)
	pod.call = listenOn(t, ip, p.call, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pod.calls.Add(1)
		if pod.onCall != nil {
			pod.onCall(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"pod": ip, "method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body),
			"xff": r.Header.Get("X-Forwarded-For"), "hop": r.Header.Get("X-Hop"), "function": r.Header.Get(httpapi.FunctionHeader),
		})
	}))
	pod.admin = listenOn(t, ip, p.admin, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case runnerapi.ReadyPath:
			if !pod.ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		case runnerapi.StatsPath:
			st := runnerapi.Stats{IdleSeconds: 3600}
			if pod.specialized.Load() {
				micros := int64(100)
				st.SpecializeMicros = &micros
			}
			_ = json.NewEncoder(w).Encode(st)
		case runnerapi.SpecializePath:
			pod.specializations.Add(1)
			b, _ := io.ReadAll(r.Body)
			last := r.Header.Get(runnerapi.SpecLengthHeader) + "|" + string(b)
			pod.lastSpecialization.Store(&last)
			time.Sleep(time.Duration(pod.specializeDelay.Load()))
			status := int(pod.specializeStatus.Load())
			if pod.refuseCompiled.Load() && r.Header.Get(runnerapi.SpecLengthHeader) != "" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			if status == http.StatusOK {
				pod.specialized.Store(true)
			}
			w.WriteHeader(status)
			if b := pod.specializeBody.Load(); b != nil {
				_, _ = w.Write([]byte(*b))
			}
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	return pod
}

func listenOn(t testing.TB, ip string, port int, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listen on %s:%d: %v", ip, port, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func testConfig(p ports) Config {
	return Config{
		ListenAddr: ":0", AdminAddr: ":1", DefaultNamespace: "default", MaxBodyBytes: 1024, HoldTimeout: 5 * time.Second,
		MaxWaiting: 100, MaxAttempts: 4, HeaderTimeout: time.Second, DialTimeout: time.Second, PodKeepAliveTimeout: time.Minute, KeepAliveTimeout: time.Minute, DeadlineGrace: 200 * time.Millisecond,
		ProbeInterval: time.Millisecond, ProbeFastFor: time.Second, ProbeMaxInterval: 10 * time.Millisecond, ProbeTimeout: time.Minute,
		ProbeRequestTimeout: 500 * time.Millisecond, ColdStartTimeout: 5 * time.Second, ColdStartRetryBackoff: 100 * time.Millisecond, ColdStartAskGrace: time.Second,
		HealInterval: 50 * time.Millisecond, SpecializeTimeout: time.Second, PackageSpecializeTimeout: time.Second, ClaimAttempts: 3, PeerGoneAfter: time.Minute, APITimeout: time.Second, AdoptAttempts: 2,
		AdoptBackoff: 10 * time.Millisecond, PoolWarmInterval: time.Minute, StatsTimeout: time.Second,
		AutoscaleInterval: time.Second, BurstWindow: 2 * time.Second, ScrapeTimeout: time.Second, PendingTTL: time.Minute, HandoverTTL: time.Minute, HandoverDelay: time.Second,
		RunnerPort: p.call, RunnerAdminPort: p.admin, SystemNamespace: "faas-system", DrainDelay: 0, ShutdownTimeout: time.Second,
	}
}

func testFunction(name string) *faasv1.Function {
	return &faasv1.Function{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec: faasv1.FunctionSpec{
			Runtime: faasv1.RuntimePython, Handler: "handle", Code: "def handle(req):\n    return 'hi'\n", MinReplicas: 0, MaxReplicas: 3,
			Concurrency: 10, TimeoutSeconds: 5, IdleTimeoutSeconds: 60, TargetUtilization: 70,
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

// testGateway is a Gateway with its call path, as Run assembles them.
type testGateway struct {
	*Gateway
	handler http.Handler
	pods    *fakePods
	scaler  *fakeScaler
}

func newTestGateway(t testing.TB, cfg Config) *testGateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return newTestGatewayUntil(ctx, cfg)
}

// newTestGatewayUntil is newTestGateway whose background work ends with
// ctx, as Run's ends when the gateway stops.
func newTestGatewayUntil(ctx context.Context, cfg Config) *testGateway {
	metrics := NewMetrics()
	pods, scaler := &fakePods{}, newFakeScaler()
	gw := New(ctx, cfg, scaler, pods, metrics, logr.Discard())
	go gw.RunHealer(ctx)
	return &testGateway{Gateway: gw, handler: chain(gw, metrics, &httpapi.Draining{}, cfg, logr.Discard()), pods: pods, scaler: scaler}
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

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func decode(t testing.TB, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %q", rec.Code, err, rec.Body.String())
	}
	return m
}

type netDialer struct{}

func (netDialer) dial(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
