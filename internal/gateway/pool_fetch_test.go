package gateway

import (
	"net/http"
	"slices"
	"testing"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
)

// notFetchedBody is what a pool runner answers a specialization whose
// package its node's fetcher could not give it.
const notFetchedBody = `{"error":"fetching package sha256:00 failed: 502 registry unreachable","status":503}`

// A pool pod that could not fetch the function's package says nothing about
// the code: the call is still answered (here by the Deployment, the pool
// having no other pod), the function is not marked unloadable, and the pod,
// which took the specialization and exits, is deleted rather than offered
// again.
func TestAPoolPodThatCouldNotFetchItsPackageIsDeletedAndTheCallTakesTheDeployment(t *testing.T) {
	p := freePorts(t)
	spent := startPod(t, "127.0.0.51", p)
	spent.specializeStatus.Store(http.StatusServiceUnavailable)
	body := notFetchedBody
	spent.specializeBody.Store(&body)
	gw := poolGateway(t, p)
	setPool(gw, idlePod("pool-nofetch", "127.0.0.51"))
	gw.OnFunction(testFunction("nofetch"))

	done := make(chan int, 1)
	go func() { done <- do(gw.handler, http.MethodGet, "/invoke/nofetch", "", nil).Code }()
	eventually(t, "the Deployment asked instead", func() bool { return gw.scaler.calls.Load() == 1 })
	eventually(t, "the spent pod deleted", func() bool {
		return slices.Contains(gw.pods.deletedPods(), "default/pool-nofetch")
	})
	if n := spent.specializations.Load(); n != 1 {
		t.Errorf("%d specializations of the spent pod, want 1", n)
	}
	if n := gw.view.IdleCount("default", faasv1.RuntimePython); n != 0 {
		t.Errorf("%d idle pool pods: the spent one was offered again", n)
	}
	f := gw.entry(key("nofetch"), false)
	if u := f.poolUnloadable.Load(); u != nil {
		t.Fatalf("a fetch failure marked the function unloadable: %q", u.message)
	}
	if err := f.Unavailable(); err != nil {
		t.Fatalf("function unavailable after a fetch failure: %v", err)
	}

	startPod(t, "127.0.0.52", p)
	gw.OnEndpointSlice(slice("nofetch", true, "127.0.0.52"), false)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("call answered %d, want 200 from the Deployment's pod", code)
	}
	if rec := do(gw.handler, http.MethodGet, "/invoke/nofetch", "", nil); rec.Code != http.StatusOK {
		t.Errorf("next call: %d %s", rec.Code, rec.Body)
	}
}

// With another pool pod to be had, the call is served by it.
func TestAPoolPodThatCouldNotFetchItsPackageIsDeletedAndTheNextPodServes(t *testing.T) {
	p := freePorts(t)
	spent, good := startPod(t, "127.0.0.53", p), startPod(t, "127.0.0.54", p)
	spent.specializeStatus.Store(http.StatusServiceUnavailable)
	body := notFetchedBody
	spent.specializeBody.Store(&body)
	gw := poolGateway(t, p)
	setPool(gw, idlePod("pool-nofetch", "127.0.0.53"), idlePod("pool-good", "127.0.0.54"))
	gw.OnFunction(testFunction("fetch-next"))

	rec := do(gw.handler, http.MethodGet, "/invoke/fetch-next", "", nil)
	if rec.Code != http.StatusOK || rec.Header().Get(httpapi.ColdStartHeader) != "pool" {
		t.Fatalf("call: %d cold=%q %s", rec.Code, rec.Header().Get(httpapi.ColdStartHeader), rec.Body)
	}
	// The pool's order for this function and these names (rendezvous
	// hashing) offers the spent pod first.
	if n := spent.specializations.Load(); n != 1 {
		t.Fatalf("the spent pod was asked %d times, want 1 (offered first)", n)
	}
	if n := good.specializations.Load(); n != 1 {
		t.Errorf("the next pod was asked %d times, want 1", n)
	}
	if got := decode(t, rec)["pod"]; got != "127.0.0.54" {
		t.Errorf("served by %v, want the next pool pod", got)
	}
	if n := gw.scaler.calls.Load(); n != 0 {
		t.Errorf("the Deployment was asked for %d replicas; the next pool pod served", n)
	}
	eventually(t, "the spent pod deleted", func() bool {
		return slices.Contains(gw.pods.deletedPods(), "default/pool-nofetch")
	})
	if u := gw.entry(key("fetch-next"), false).poolUnloadable.Load(); u != nil {
		t.Errorf("a fetch failure marked the function unloadable: %q", u.message)
	}
}
