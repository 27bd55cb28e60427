package gateway

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minifaas/minifaas/internal/gateway/httpapi"
)

// events is an ordered log of what a test's fakes saw.
type events struct {
	mu  sync.Mutex
	all []string
}

func (e *events) add(ev string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.all)
}

// holdCalls makes pod hold the function calls it gets (not the gateway's
// warm-ups) until release is called; started counts the calls held.
func holdCalls(t *testing.T, pod *fakePod) (started *atomic.Int32, release func()) {
	started = &atomic.Int32{}
	ch := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release) // a failed test must not leave the pod's server waiting
	pod.onCall = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(httpapi.FunctionHeader) != "" {
			started.Add(1)
			<-ch
		}
		_, _ = w.Write([]byte("ok"))
	}
	return started, release
}

// The hand-over PATCH sets off work on the node that stalls a call still
// running: it goes out once the first call the claimed pod serves was
// answered, for a lone call and for a burst at zero (one claim for it).
func TestHandOverWaitsForThePoolPodsFirstAnswer(t *testing.T) {
	for _, calls := range []int{1, 5} {
		t.Run(fmt.Sprintf("%d calls at zero", calls), func(t *testing.T) {
			p := freePorts(t)
			ips := []string{"127.0.0.51", "127.0.0.52"}
			cfg := testConfig(p)
			// Far beyond the test: only an answer can start the hand-over.
			cfg.HandoverDelay = 10 * time.Second
			gw := newTestGateway(t, cfg)
			gw.SetPoolKey([]byte("key"))
			var log events
			patched := make(chan struct{}, 1)
			gw.pods.onPatch = func(pod string) {
				log.add("patch " + pod)
				select {
				case patched <- struct{}{}:
				default:
				}
			}
			var pods []*fakePod
			for _, ip := range ips {
				pod := startPod(t, ip, p)
				pod.onCall = func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get(httpapi.FunctionHeader) != "" {
						// A hand-over sent while the call runs shows up
						// here; the bound only ends the wait for one that
						// is right.
						select {
						case <-patched:
						case <-time.After(200 * time.Millisecond):
						}
						log.add("answer")
					}
					_, _ = w.Write([]byte("ok"))
				}
				pods = append(pods, pod)
			}
			setPool(gw, idlePod("pool-a", ips[0]), idlePod("pool-b", ips[1]))
			gw.OnFunction(testFunction("first"))

			type answer struct {
				code int
				cold string
			}
			answers := make(chan answer, calls)
			for range calls {
				go func() {
					rec := do(gw.handler, http.MethodGet, "/invoke/first", "", nil)
					answers <- answer{rec.Code, rec.Header().Get(httpapi.ColdStartHeader)}
				}()
			}
			pooled := 0
			for range calls {
				a := <-answers
				if a.code != http.StatusOK {
					t.Errorf("call answered %d", a.code)
				}
				if a.cold == "pool" {
					pooled++
				}
			}
			if pooled == 0 {
				t.Errorf("no call was served cold by the pool")
			}
			eventually(t, "the hand-over", func() bool { return len(gw.pods.patchedPods()) > 0 })
			got := log.list()
			first := slices.IndexFunc(got, func(ev string) bool { return ev != "answer" })
			if first < 1 {
				t.Fatalf("events %q: the hand-over went out before the first answer", got)
			}
			if n := pods[0].specializations.Load() + pods[1].specializations.Load(); n != 1 {
				t.Errorf("%d pool pods specialized for one burst, want 1", n)
			}
			if n := len(gw.pods.patchedPods()); n != 1 {
				t.Errorf("%d hand-overs, want 1", n)
			}
			if n := gw.entry(key("first"), false).handovers.pending(); n != 0 {
				t.Errorf("%d hand-overs still pending", n)
			}
		})
	}
}

// A first call that does not end (a slow function, a caller that does not
// read) holds the hand-over HandoverDelay at most.
func TestHandOverIsBoundedWhenTheFirstCallHangs(t *testing.T) {
	p := freePorts(t)
	pod := startPod(t, "127.0.0.53", p)
	started, release := holdCalls(t, pod)
	cfg := testConfig(p)
	cfg.HandoverDelay = 50 * time.Millisecond
	gw := newTestGateway(t, cfg)
	gw.SetPoolKey([]byte("key"))
	setPool(gw, idlePod("pool-a", "127.0.0.53"))
	gw.OnFunction(testFunction("hangs"))
	done := make(chan int, 1)
	go func() { done <- do(gw.handler, http.MethodGet, "/invoke/hangs", "", nil).Code }()

	eventually(t, "the hand-over while the call runs", func() bool { return len(gw.pods.patchedPods()) == 1 })
	select {
	case code := <-done:
		t.Fatalf("the call answered %d before it was released", code)
	default:
	}
	if n := started.Load(); n != 1 {
		t.Fatalf("%d calls held at the pod, want the first", n)
	}
	if n := gw.entry(key("hangs"), false).handovers.pending(); n != 0 {
		t.Errorf("%d hand-overs still pending after the bound fired", n)
	}
	release()
	if code := <-done; code != http.StatusOK {
		t.Errorf("call answered %d", code)
	}
	if got := gw.pods.patchedPods(); !slices.Equal(got, []string{"default/pool-a"}) {
		t.Errorf("patched %q, want the pod once", got)
	}
}

// A gateway that stops before the hand-over leaves the pod as one that died
// then: specialized and still labelled idle, neither patched nor deleted by
// it. Its first call is still answered, and the pool warmer of a replica
// (or of the same one, restarted) deletes the pod after two rounds.
func TestAGatewayStoppedBeforeTheHandOverLeavesThePodToThePoolWarmer(t *testing.T) {
	p := freePorts(t)
	pod := startPod(t, "127.0.0.54", p)
	started, release := holdCalls(t, pod)
	cfg := testConfig(p)
	cfg.HandoverDelay = 10 * time.Second
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	gw := newTestGatewayUntil(ctx, cfg)
	gw.SetPoolKey([]byte("key"))
	setPool(gw, idlePod("pool-a", "127.0.0.54"))
	gw.OnFunction(testFunction("stops"))
	done := make(chan int, 1)
	go func() { done <- do(gw.handler, http.MethodGet, "/invoke/stops", "", nil).Code }()
	eventually(t, "the first call at the pod", func() bool { return started.Load() == 1 })

	stop() // as Run does once its calls are answered or its time is up
	release()
	if code := <-done; code != http.StatusOK {
		t.Errorf("call answered %d", code)
	}
	f := gw.entry(key("stops"), false)
	if n := f.handovers.pending(); n != 0 {
		t.Errorf("%d hand-overs still pending after the call ended", n)
	}
	if got := gw.pods.patchedPods(); len(got) != 0 {
		t.Errorf("the stopped gateway patched %q", got)
	}
	if got := gw.pods.deletedPods(); len(got) != 0 {
		t.Errorf("the stopped gateway deleted %q", got)
	}

	// The operator never saw a hand-over: the pool's status still lists the
	// pod idle, and its stats say it is specialized.
	warmCfg := testConfig(p)
	warmCfg.PoolWarmInterval = 10 * time.Millisecond
	other := newTestGateway(t, warmCfg)
	other.SetPoolKey([]byte("key"))
	setPool(other, idlePod("pool-a", "127.0.0.54"))
	go other.RunPoolWarmer(t.Context())
	eventually(t, "the orphan deleted by a pool warmer", func() bool {
		return slices.Contains(other.pods.deletedPods(), "default/pool-a")
	})
	if got := other.pods.patchedPods(); len(got) != 0 {
		t.Errorf("the other replica patched %q", got)
	}
}

// A pod taken out of its function before its hand-over (here: the code
// changed, so it is retired and deleted) is not handed over after all.
func TestAPoolPodRetiredBeforeItsHandOverIsNotHandedOver(t *testing.T) {
	p := freePorts(t)
	pod := startPod(t, "127.0.0.55", p)
	started, release := holdCalls(t, pod)
	cfg := testConfig(p)
	cfg.HandoverDelay = 10 * time.Second
	gw := newTestGateway(t, cfg)
	gw.SetPoolKey([]byte("key"))
	setPool(gw, idlePod("pool-a", "127.0.0.55"))
	gw.OnFunction(testFunction("retired"))
	done := make(chan int, 1)
	go func() { done <- do(gw.handler, http.MethodGet, "/invoke/retired", "", nil).Code }()
	eventually(t, "the first call at the pod", func() bool { return started.Load() == 1 })

	next := testFunction("retired")
	next.Spec.Code, next.Generation = "def handle(req):\n    return 'v2'\n", 2
	gw.OnFunction(next)
	eventually(t, "the retired pod deleted", func() bool { return slices.Contains(gw.pods.deletedPods(), "default/pool-a") })
	release()
	if code := <-done; code != http.StatusOK {
		t.Errorf("call in flight on the retired pod answered %d", code)
	}
	if n := gw.entry(key("retired"), false).handovers.pending(); n != 0 {
		t.Errorf("%d hand-overs still pending after the call ended", n)
	}
	if got := gw.pods.patchedPods(); len(got) != 0 {
		t.Errorf("the retired pod was handed over: patched %q", got)
	}
}

func TestConfigBoundsTheHandOverDelay(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*Config)
		valid bool
	}{
		{"the flags' defaults", func(c *Config) {
			c.HandoverDelay, c.HandoverTTL, c.PoolWarmInterval = 100*time.Millisecond, time.Minute, 30*time.Second
		}, true},
		{"zero", func(c *Config) { c.HandoverDelay = 0 }, false},
		{"negative", func(c *Config) { c.HandoverDelay = -time.Second }, false},
		{"near the hand-over TTL", func(c *Config) { c.HandoverDelay, c.HandoverTTL = 30*time.Second, time.Minute }, false},
		{"near the pool warm interval", func(c *Config) {
			c.HandoverDelay, c.HandoverTTL, c.PoolWarmInterval = 10*time.Second, time.Hour, 30*time.Second
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(ports{call: 8080, admin: 9091})
			tc.set(&cfg)
			if err := cfg.Validate(); (err == nil) != tc.valid {
				t.Errorf("Validate() = %v, want valid %v", err, tc.valid)
			}
		})
	}
}
