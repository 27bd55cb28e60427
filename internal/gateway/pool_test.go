package gateway

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
)

// idlePod is a ready idle pool pod as a RuntimePool's status lists it.
func idlePod(name, ip string) faasv1.PoolPod {
	return faasv1.PoolPod{Name: name, PodIP: ip, Ready: true}
}

// setPool delivers the status of the namespace's one python RuntimePool,
// listing pods as its idle pods.
func setPool(gw *testGateway, pods ...faasv1.PoolPod) {
	gw.OnRuntimePool(&faasv1.RuntimePool{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "pool"},
		Spec:       faasv1.RuntimePoolSpec{Runtime: faasv1.RuntimePython},
		Status:     faasv1.RuntimePoolStatus{IdlePods: pods},
	}, false)
}

func poolGateway(t *testing.T, p ports) *testGateway {
	gw := newTestGateway(t, testConfig(p))
	gw.SetPoolKey([]byte("key"))
	return gw
}

func TestColdCallIsServedBySpecializingAPoolPod(t *testing.T) {
	p := freePorts(t)
	pod := startPod(t, "127.0.0.21", p)
	gw := poolGateway(t, p)
	setPool(gw, idlePod("pool-a", "127.0.0.21"))
	gw.OnFunction(testFunction("from"))
	rec := do(gw.handler, http.MethodGet, "/invoke/from", "", nil)
	if rec.Code != http.StatusOK || rec.Header().Get(httpapi.ColdStartHeader) != "pool" {
		t.Fatalf("cold call: %d %q %s", rec.Code, rec.Header().Get(httpapi.ColdStartHeader), rec.Body)
	}
	if n := pod.specializations.Load(); n != 1 {
		t.Errorf("%d specializations, want 1", n)
	}
	if n := gw.scaler.calls.Load(); n != 0 {
		t.Errorf("the Deployment was asked for %d replicas; the pool served", n)
	}
	eventually(t, "hand-over", func() bool {
		gw.pods.mu.Lock()
		defer gw.pods.mu.Unlock()
		return len(gw.pods.patched) == 1
	})
	// A warm call goes to the same pod with no new specialization.
	if rec := do(gw.handler, http.MethodGet, "/invoke/from", "", nil); rec.Code != http.StatusOK || rec.Header().Get(httpapi.ColdStartHeader) != "" {
		t.Errorf("warm call: %d cold=%q", rec.Code, rec.Header().Get(httpapi.ColdStartHeader))
	}

	// Changing env retires the pod: it is deleted and takes no more calls.
	fn := testFunction("from")
	fn.Spec.Env = []corev1.EnvVar{{Name: "GREETING", Value: "hi"}}
	fn.Generation = 2
	gw.OnFunction(fn)
	eventually(t, "old pod deleted", func() bool { return len(gw.pods.deletedPods()) == 1 })
	if ready := gw.entry(key("from"), false).tracker.Ready(); len(ready) != 0 {
		t.Errorf("retired pod still ready: %v", ready)
	}
}

func TestUnloadableCodeStopsAtTheFirstPoolPodAndIsAnswered503(t *testing.T) {
	p := freePorts(t)
	pods := []*fakePod{startPod(t, "127.0.0.22", p), startPod(t, "127.0.0.23", p)}
	body := `{"error":"SyntaxError: invalid syntax (function.py, line 1)","status":422}`
	for _, pod := range pods {
		pod.specializeStatus.Store(http.StatusUnprocessableEntity)
		pod.specializeBody.Store(&body)
	}
	gw := poolGateway(t, p)
	setPool(gw, idlePod("pool-a", "127.0.0.22"), idlePod("pool-b", "127.0.0.23"))
	gw.OnFunction(testFunction("bad"))
	rec := do(gw.handler, http.MethodGet, "/invoke/bad", "", nil)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "line 1") {
		t.Fatalf("call: %d %s", rec.Code, rec.Body)
	}
	if n := pods[0].specializations.Load() + pods[1].specializations.Load(); n != 1 {
		t.Errorf("%d pool pods tried, want 1", n)
	}
	if n := gw.scaler.calls.Load(); n != 0 {
		t.Errorf("the Deployment was asked for %d replicas of unloadable code", n)
	}
	if rec := do(gw.handler, http.MethodGet, "/invoke/bad", "", nil); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("next call: %d", rec.Code)
	}
	if n := pods[0].specializations.Load() + pods[1].specializations.Load(); n != 1 {
		t.Errorf("the next call tried another pod")
	}
}

func TestUnreachablePoolPodGoesBackToTheIdleSet(t *testing.T) {
	p := freePorts(t)
	gw := poolGateway(t, p)
	// Nothing listens at this pod's address yet.
	setPool(gw, idlePod("pool-a", "127.0.0.24"))
	fn := testFunction("unreach")
	gw.OnFunction(fn)
	done := make(chan int, 1)
	go func() { done <- do(gw.handler, http.MethodGet, "/invoke/unreach", "", nil).Code }()
	eventually(t, "fell back to the Deployment", func() bool { return gw.scaler.calls.Load() == 1 })
	if n := gw.view.IdleCount("default", faasv1.RuntimePython); n != 1 {
		t.Errorf("%d idle pool pods after a failed claim, want 1", n)
	}
	startPod(t, "127.0.0.25", p)
	gw.OnEndpointSlice(slice("unreach", true, "127.0.0.25"), false)
	if code := <-done; code != http.StatusOK {
		t.Errorf("call answered %d", code)
	}
}

func TestAnUnreachablePoolPodIsNotTriedTwiceInOneStart(t *testing.T) {
	p := freePorts(t)
	startPod(t, "127.0.0.31", p)
	gw := poolGateway(t, p)
	// Whichever of the two ranks first, the reachable one serves the call.
	setPool(gw, idlePod("pool-dead", "127.0.0.30"), idlePod("pool-live", "127.0.0.31"))
	gw.OnFunction(testFunction("two"))
	rec := do(gw.handler, http.MethodGet, "/invoke/two", "", nil)
	if rec.Code != http.StatusOK || rec.Header().Get(httpapi.ColdStartHeader) != "pool" {
		t.Fatalf("call: %d cold=%q %s", rec.Code, rec.Header().Get(httpapi.ColdStartHeader), rec.Body)
	}
	if n := gw.scaler.calls.Load(); n != 0 {
		t.Errorf("fell back to the Deployment (%d asks) with a reachable pool pod", n)
	}
	// The unreachable pod went back; once its pool no longer lists it, it
	// is gone.
	if n := gw.view.IdleCount("default", faasv1.RuntimePython); n != 1 {
		t.Errorf("%d idle pods after the claim, want the unreachable one back", n)
	}
	setPool(gw)
	if n := gw.view.IdleCount("default", faasv1.RuntimePython); n != 0 {
		t.Errorf("%d idle pods after the dead one was deleted", n)
	}
}

func TestBurstBeyondOnePodSpecializesMorePoolPodsUpToMax(t *testing.T) {
	p := freePorts(t)
	ips := []string{"127.0.0.26", "127.0.0.27", "127.0.0.28", "127.0.0.29"}
	release := make(chan struct{})
	for _, ip := range ips {
		pod := startPod(t, ip, p)
		pod.onCall = func(w http.ResponseWriter, r *http.Request) { <-release }
	}
	gw := poolGateway(t, p)
	var idle []faasv1.PoolPod
	for i, ip := range ips {
		idle = append(idle, idlePod("pool-"+string(rune('a'+i)), ip))
	}
	setPool(gw, idle...)
	fn := testFunction("burst")
	fn.Spec.Concurrency, fn.Spec.MaxReplicas = 2, 3
	gw.OnFunction(fn)
	done := make(chan int, 10)
	for range 10 {
		go func() { done <- do(gw.handler, http.MethodGet, "/invoke/burst", "", nil).Code }()
	}
	f := gw.entry(key("burst"), false)
	eventually(t, "three pool pods", func() bool { return len(f.tracker.Ready()) == 3 })
	if n := len(gw.view.SpecializedOf(key("burst"))); n != 3 {
		t.Errorf("%d pool pods specialized, want maxReplicas 3", n)
	}
	close(release)
	for range 10 {
		if code := <-done; code != http.StatusOK {
			t.Errorf("call answered %d", code)
		}
	}
}

// A pool pod taken out of a function (removed when the function idles,
// retired when its code changed) frees its address once the function's
// status drops it: a later pod at the same address serves.
func TestARemovedPoolPodsAddressServesAgainOnceTheStatusDropsIt(t *testing.T) {
	for _, how := range []string{"removed by the autoscaler", "retired by a code change"} {
		t.Run(how, func(t *testing.T) {
			p := freePorts(t)
			startPod(t, "127.0.0.41", p)
			gw := poolGateway(t, p)
			setPool(gw, idlePod("pool-a", "127.0.0.41"))
			gw.OnFunction(testFunction("reuse"))
			if rec := do(gw.handler, http.MethodGet, "/invoke/reuse", "", nil); rec.Code != http.StatusOK {
				t.Fatalf("cold call %d", rec.Code)
			}
			f := gw.entry(key("reuse"), false)
			listed := testFunction("reuse")
			listed.Status.PoolPods = []faasv1.PoolPod{{Name: "pool-a", PodIP: "127.0.0.41", Ready: true, SpecHash: f.info.Load().Spec.Hash}}
			gw.OnFunction(listed)
			setPool(gw)
			next := testFunction("reuse")
			if how == "removed by the autoscaler" {
				if err := (zeroer{gw.Gateway}).RemovePoolPods(context.Background(), key("reuse"), 1); err != nil {
					t.Fatal(err)
				}
			} else {
				next.Spec.Code, next.Generation = "def handle(req):\n    return 'v2'\n", 2
				changed := next.DeepCopy()
				changed.Status.PoolPods = listed.Status.PoolPods
				gw.OnFunction(changed)
			}
			// The operator saw the pod go; later a Deployment pod gets its IP.
			gw.OnFunction(next)
			gw.OnEndpointSlice(slice("reuse", true, "127.0.0.41"), false)
			eventually(t, "the address in rotation again", func() bool { return len(f.tracker.Ready()) == 1 })
		})
	}
}

// A pool pod that took the request but did not answer within the
// specialization timeout may run the function's code, and nobody will hand
// it over: it is deleted, not offered again.
func TestAPoolPodThatDoesNotAnswerItsSpecializationIsDeleted(t *testing.T) {
	p := freePorts(t)
	slow := startPod(t, "127.0.0.43", p)
	slow.specializeDelay.Store(int64(1500 * time.Millisecond))
	gw := poolGateway(t, p)
	setPool(gw, idlePod("pool-slow", "127.0.0.43"))
	gw.OnFunction(testFunction("slow"))
	go do(gw.handler, http.MethodGet, "/invoke/slow", "", nil)
	eventually(t, "the silent pod deleted", func() bool {
		return slices.Contains(gw.pods.deletedPods(), "default/pool-slow")
	})
	if n := gw.view.IdleCount("default", faasv1.RuntimePython); n != 0 {
		t.Errorf("%d idle pods: the silent one was offered again", n)
	}
	eventually(t, "the Deployment asked instead", func() bool { return gw.scaler.calls.Load() == 1 })
}
