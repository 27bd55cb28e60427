//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// load drives url with n clients, each on its own kept-alive connection
// (kube-proxy spreads them over both gateway replicas), until stop is
// closed, and records every call.
type load struct {
	mu        sync.Mutex
	latencies []time.Duration
	at        []time.Time
	failures  []string
	stop      chan struct{}
	wg        sync.WaitGroup
}

func startLoad(url string, n int) *load {
	l := &load{stop: make(chan struct{})}
	for range n {
		c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				code, body, err := callWith(c, "GET", url, "")
				l.mu.Lock()
				if err != nil || code != http.StatusOK {
					l.failures = append(l.failures, fmt.Sprintf("%s: %d %q %v", start.Format("15:04:05.000"), code, body, err))
				} else {
					l.latencies = append(l.latencies, time.Since(start))
					l.at = append(l.at, time.Now())
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
}

// since returns the latencies of calls answered after t, and their rate.
func (l *load) since(t time.Time) (lat []time.Duration, perSecond float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, at := range l.at {
		if at.After(t) {
			lat = append(lat, l.latencies[i])
		}
	}
	return lat, float64(len(lat)) / time.Since(t).Seconds()
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]
}

func readyReplicas(t *testing.T, ns, name string) int32 {
	t.Helper()
	return getFunction(t, ns, name).Status.ReadyReplicas
}

// TestAutoscaleOutUnderLoadAndBackToZero: a 200 ms function (concurrency
// 10, maxReplicas 5) under 100 concurrent clients spread over both gateway
// replicas reaches 5 ready pods, then serves at least 0.9 × 250 calls/s with
// p99 ≤ 2 × p50 and no error, and goes back to zero once idle.
func TestAutoscaleOutUnderLoadAndBackToZero(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "scale")
	createFunction(t, ns, "slow", "import time\ndef handle(req):\n    time.sleep(0.2)\n    return 'ok'\n", func(f *faasv1.Function) {
		f.Spec.Concurrency, f.Spec.MaxReplicas, f.Spec.IdleTimeoutSeconds = 10, 5, 5
		f.Spec.ScaleDownDelaySeconds = ptr.To(int32(5))
	})
	url := gw + "/invoke/slow." + ns
	start := time.Now()
	l := startLoad(url, 100)
	defer func() {
		select {
		case <-l.stop:
		default:
			l.end()
		}
	}()
	eventually(t, 60*time.Second, "5 ready pods", func() error {
		if n := readyReplicas(t, ns, "slow"); n < 5 {
			return fmt.Errorf("%d ready", n)
		}
		return nil
	})
	t.Logf("overload to 5 ready pods: %s", time.Since(start).Round(100*time.Millisecond))
	time.Sleep(2 * time.Second) // every replica's connections warm
	window := time.Now()
	time.Sleep(10 * time.Second)
	lat, rate := l.since(window)
	l.end()
	p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
	t.Logf("steady: %.0f calls/s (ideal 250), p50 %s, p99 %s, %d failures", rate, p50.Round(time.Millisecond), p99.Round(time.Millisecond), len(l.failures))
	if len(l.failures) > 0 {
		t.Errorf("%d calls failed, e.g. %v", len(l.failures), l.failures[:min(5, len(l.failures))])
	}
	if rate < 0.9*250 {
		t.Errorf("throughput %.0f calls/s, want ≥ %.0f", rate, 0.9*250)
	}
	if p99 > 2*p50 {
		t.Errorf("p99 %s > 2 × p50 %s", p99, p50)
	}
	eventually(t, 60*time.Second, "back to zero when idle", func() error {
		fn := getFunction(t, ns, "slow")
		if r := ptr.Deref(fn.Spec.Replicas, 0); r != 0 || fn.Status.Replicas != 0 {
			return fmt.Errorf("spec.replicas %d, status.replicas %d", r, fn.Status.Replicas)
		}
		return nil
	})
}

// TestIdleBoundaryCallsNeverFail calls a function every idleTimeoutSeconds
// ± 0.2 s for two minutes, each call on a new connection so both gateway
// replicas take them: a scale-down racing a call must never lose it.
func TestIdleBoundaryCallsNeverFail(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "boundary")
	createFunction(t, ns, "edge", helloCode, func(f *faasv1.Function) { f.Spec.IdleTimeoutSeconds = 3 })
	url := gw + "/invoke/edge." + ns
	deadline := time.Now().Add(2 * time.Minute)
	offsets := []time.Duration{-200 * time.Millisecond, 0, 200 * time.Millisecond, 100 * time.Millisecond, -100 * time.Millisecond}
	var failures []string
	calls := 0
	for i := 0; time.Now().Before(deadline); i++ {
		c := &http.Client{Timeout: 40 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		start := time.Now()
		code, body, err := callWith(c, "GET", url, "")
		calls++
		if err != nil || code != http.StatusOK {
			failures = append(failures, fmt.Sprintf("call %d at %s: %d %q %v", i, start.Format("15:04:05.000"), code, body, err))
		}
		time.Sleep(3*time.Second + offsets[i%len(offsets)] - time.Since(start))
	}
	t.Logf("%d calls, %d failed", calls, len(failures))
	if len(failures) > 0 {
		t.Errorf("calls at the idle boundary failed: %v", failures)
	}
}

// TestCrashingHandlerLosesNoLaterCall: a handler that kills its process,
// then a stream of calls: every call after the crashing one is answered,
// whether another pod takes it or it waits for the pod to restart.
func TestCrashingHandlerLosesNoLaterCall(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "crash")
	for _, pods := range []int32{2, 1} {
		name := fmt.Sprintf("crash%d", pods)
		createFunction(t, ns, name, "import os\ndef handle(req):\n    if req.query.get('crash'):\n        os._exit(1)\n    return 'alive'\n",
			func(f *faasv1.Function) { f.Spec.MinReplicas, f.Spec.Replicas = pods, ptr.To(pods) })
		eventually(t, 60*time.Second, fmt.Sprintf("%d ready pods", pods), func() error {
			if n := readyReplicas(t, ns, name); n != pods {
				return fmt.Errorf("%d ready", n)
			}
			return nil
		})
		url := gw + "/invoke/" + name + "." + ns
		c := &http.Client{Timeout: 40 * time.Second}
		for i := 0; i < 2*int(pods); i++ { // warm every gateway's connections
			if code, _, err := callWith(c, "GET", url, ""); err != nil || code != 200 {
				t.Fatalf("warm call: %d %v", code, err)
			}
		}
		code, _, err := callWith(c, "GET", url+"?crash=1", "")
		t.Logf("%s: the crashing call got %d %v", name, code, err)
		var failed atomic.Int32
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				cl := &http.Client{Timeout: 40 * time.Second}
				for i := range 25 {
					if code, body, err := callWith(cl, "GET", url, ""); err != nil || code != 200 || body != "alive" {
						failed.Add(1)
						t.Errorf("%s: worker %d call %d after the crash: %d %q %v", name, w, i, code, body, err)
					}
				}
			})
		}
		wg.Wait()
		if failed.Load() == 0 {
			t.Logf("%s: 100 calls after the crash, none failed", name)
		}
	}
}

// TestGatewayRolloutRestartLosesNoCall restarts the gateway Deployment
// (kubectl rollout restart) during a warm stream and during a burst at zero.
func TestGatewayRolloutRestartLosesNoCall(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "rollout")
	createFunction(t, ns, "warm", helloCode, func(f *faasv1.Function) { f.Spec.IdleTimeoutSeconds = 120 })
	createFunction(t, ns, "atzero", "import time\ntime.sleep(2)\ndef handle(req):\n    return 'hello from runner'\n",
		func(f *faasv1.Function) { f.Spec.IdleTimeoutSeconds = 120 })
	warm := startLoad(gw+"/invoke/warm."+ns, 10)
	time.Sleep(2 * time.Second)
	// The burst at zero: the function's pod takes over 2 s to load, so its
	// calls are held by the replicas being restarted.
	burst := make(chan string, 50)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			c := &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			code, body, err := callWith(c, "GET", gw+"/invoke/atzero."+ns, "")
			if err != nil || code != 200 {
				burst <- fmt.Sprintf("%d %q %v", code, body, err)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	kubectl(t, "rollout", "restart", "deployment/faas-gateway", "-n", "faas-system")
	kubectl(t, "rollout", "status", "deployment/faas-gateway", "-n", "faas-system", "--timeout=300s")
	wg.Wait()
	close(burst)
	time.Sleep(3 * time.Second)
	warm.end()
	var burstFailures []string
	for f := range burst {
		burstFailures = append(burstFailures, f)
	}
	t.Logf("warm stream: %d answered, %d failed; burst at zero: %d failed", len(warm.latencies), len(warm.failures), len(burstFailures))
	if len(warm.failures) > 0 {
		t.Errorf("warm calls failed during the rollout: %v", warm.failures[:min(10, len(warm.failures))])
	}
	if len(burstFailures) > 0 {
		t.Errorf("calls held at zero failed during the rollout: %v", burstFailures)
	}
}

// TestDeletedFunctionAnswersHeldCallsAtOnce: calls held for a function
// whose pod is slow to load are answered 404 as soon as it is deleted.
func TestDeletedFunctionAnswersHeldCallsAtOnce(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "deleted")
	createFunction(t, ns, "doomed", "import time\ntime.sleep(20)\ndef handle(req):\n    return 1\n")
	url := gw + "/invoke/doomed." + ns
	codes := make(chan int, 3)
	for range 3 {
		go func() {
			code, _, _ := call("GET", url, "")
			codes <- code
		}()
	}
	time.Sleep(time.Second)
	start := time.Now()
	doomed := &faasv1.Function{}
	doomed.Namespace, doomed.Name = ns, "doomed"
	if err := k8s.Delete(context.Background(), doomed); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if code := <-codes; code != http.StatusNotFound {
			t.Errorf("a held call got %d, want 404", code)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("held calls answered %s after the delete, want under 1s", d)
	}
	if code, _, _ := call("GET", url, ""); code != http.StatusNotFound {
		t.Errorf("a new call got %d, want 404", code)
	}
}
