package gateway

import (
	"context"
	"io"
	"net/http"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/minifaas/minifaas/internal/runnerapi"
)

// endpointAddr is one pod address of an EndpointSlice.
type endpointAddr struct {
	ip          string
	ready       bool
	terminating bool
}

// endpointSet is a function's EndpointSlice addresses plus what the
// gateway's own readiness probes found. All fields are guarded by the
// owning function's mu.
type endpointSet struct {
	slices map[string][]endpointAddr
	// probed are pods the gateway found ready before the kubelet said so.
	probed map[string]bool
	// seenReady are pods the kubelet has called ready; from then on its
	// word, not the gateway's probe, decides.
	seenReady map[string]bool
	probing   map[string]bool
	// specialized are pool pods this gateway specialized for the function:
	// ready from the moment they accepted the code, before any EndpointSlice
	// lists them, until they terminate.
	specialized map[string]bool
	// retired are pool pods running code the function no longer has: no
	// call goes to them, whatever the EndpointSlice says, until they are gone.
	retired map[string]bool
}

func newEndpointSet() endpointSet {
	return endpointSet{
		slices: map[string][]endpointAddr{}, probed: map[string]bool{},
		seenReady: map[string]bool{}, probing: map[string]bool{}, specialized: map[string]bool{},
		retired: map[string]bool{},
	}
}

// addrsOf reads the pod addresses of an EndpointSlice.
func addrsOf(slice *discoveryv1.EndpointSlice) []endpointAddr {
	var out []endpointAddr
	for _, ep := range slice.Endpoints {
		ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
		terminating := ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
		for _, ip := range ep.Addresses {
			out = append(out, endpointAddr{ip: ip, ready: ready && !terminating, terminating: terminating})
		}
	}
	return out
}

// setSliceLocked records one slice's addresses (nil removes the slice),
// recomputes the ready pods and returns the new addresses to probe.
// f.mu must be held.
func (f *function) setSliceLocked(name string, addrs []endpointAddr) (toProbe []string) {
	if addrs == nil {
		delete(f.endpoints.slices, name)
	} else {
		f.endpoints.slices[name] = addrs
	}
	return f.recomputeLocked()
}

// recomputeLocked derives the ready pods from the slices and probes, and
// returns addresses nobody probes yet. f.mu must be held.
func (f *function) recomputeLocked() (toProbe []string) {
	es := &f.endpoints
	present := map[string]bool{}
	terminating := map[string]bool{}
	var ready []string
	for _, sliceAddrs := range es.slices {
		for _, a := range sliceAddrs {
			present[a.ip] = true
			switch {
			case es.retired[a.ip]:
			case a.ready:
				es.seenReady[a.ip] = true
				if !es.specialized[a.ip] {
					ready = append(ready, a.ip)
				}
			case a.terminating:
				terminating[a.ip] = true
			case es.probed[a.ip] && !es.seenReady[a.ip]:
				ready = append(ready, a.ip)
			case es.specialized[a.ip]:
			case !es.seenReady[a.ip] && !es.probing[a.ip]:
				es.probing[a.ip] = true
				toProbe = append(toProbe, a.ip)
			}
		}
	}
	for ip := range es.specialized {
		if terminating[ip] || es.retired[ip] {
			delete(es.specialized, ip)
		} else {
			ready = append(ready, ip)
		}
	}
	for _, m := range []map[string]bool{es.probed, es.seenReady, es.retired} {
		for ip := range m {
			if !present[ip] {
				delete(m, ip)
			}
		}
	}
	f.setPodsLocked(ready)
	return toProbe
}

// stillPending tells whether ip is a known, non-terminating address that
// nobody has found ready yet. f.mu must be held.
func (f *function) stillPendingLocked(ip string) bool {
	if f.endpoints.seenReady[ip] || f.endpoints.probed[ip] {
		return false
	}
	for _, addrs := range f.endpoints.slices {
		for _, a := range addrs {
			if a.ip == ip {
				return !a.terminating
			}
		}
	}
	return false
}

// probe polls a new pod's readiness endpoint until it answers 200, so the
// first call is sent as soon as the runner has loaded its code rather than
// at the kubelet's next readiness probe.
func (f *function) probe(ctx context.Context, client *http.Client, ip string, interval time.Duration) {
	defer func() {
		f.mu.Lock()
		delete(f.endpoints.probing, ip)
		f.mu.Unlock()
	}()
	url := "http://" + podAddr(ip, f.port) + runnerapi.ReadyPath
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		pending := f.stillPendingLocked(ip)
		f.mu.Unlock()
		if !pending {
			return
		}
		if probeOnce(ctx, client, url) {
			f.mu.Lock()
			if f.stillPendingLocked(ip) {
				f.endpoints.probed[ip] = true
				f.recomputeLocked()
			}
			f.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func probeOnce(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	// Read to the end, so a kept-alive connection can be reused.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
