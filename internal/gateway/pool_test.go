package gateway

import (
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
	"github.com/minifaas/minifaas/internal/resources"
)

func poolPodObject(name, ip string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{
			resources.PoolStateLabel: resources.PoolIdle, resources.RuntimeLabel: string(faasv1.RuntimePython),
		}},
		Status: corev1.PodStatus{PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
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
	gw.OnPoolPod(poolPodObject("pool-a", "127.0.0.21"), false)
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
	gw.OnPoolPod(poolPodObject("pool-a", "127.0.0.22"), false)
	gw.OnPoolPod(poolPodObject("pool-b", "127.0.0.23"), false)
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
	gw.OnPoolPod(poolPodObject("pool-a", "127.0.0.24"), false)
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
	gw.OnPoolPod(poolPodObject("pool-dead", "127.0.0.30"), false)
	gw.OnPoolPod(poolPodObject("pool-live", "127.0.0.31"), false)
	gw.OnFunction(testFunction("two"))
	rec := do(gw.handler, http.MethodGet, "/invoke/two", "", nil)
	if rec.Code != http.StatusOK || rec.Header().Get(httpapi.ColdStartHeader) != "pool" {
		t.Fatalf("call: %d cold=%q %s", rec.Code, rec.Header().Get(httpapi.ColdStartHeader), rec.Body)
	}
	if n := gw.scaler.calls.Load(); n != 0 {
		t.Errorf("fell back to the Deployment (%d asks) with a reachable pool pod", n)
	}
	// The unreachable pod went back; once deleted, it does not come back.
	gone := poolPodObject("pool-dead", "127.0.0.30")
	gw.OnPoolPod(gone, true)
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
	for i, ip := range ips {
		gw.OnPoolPod(poolPodObject("pool-"+string(rune('a'+i)), ip), false)
	}
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
