package gateway

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/minifaas/minifaas/internal/gateway/backends"
	"github.com/minifaas/minifaas/internal/gateway/pool"
)

// handovers are a function's claimed pool pods whose hand-over waits for
// the first call they answer. The hand-over's PATCH sets off work on the
// pod's node (status writes, a replacement pool pod starting, network rules
// synced again) that stalled that first call by tens of milliseconds when
// the PATCH went out before it. Nothing waits on it meanwhile: the pod
// serves from the gateway's own view, a pod takes one specialization (other
// replicas get 409), and it stays taken here. The zero value is ready.
type handovers struct {
	// n is len(byIP), read without mu by every call's Release.
	n  atomic.Int32
	mu sync.Mutex
	// byIP are the pending hand-overs by pod IP; guarded by mu.
	byIP map[string]*pendingHandover
}

// pendingHandover is one claimed pod's hand-over, run once: on the pod's
// first answer or when its timer fires, whichever comes first.
type pendingHandover struct {
	run   func()
	timer *time.Timer // set under handovers.mu before anyone can fire it
}

// add defers run until a call on ip ends (see answered) or bound has
// passed. A pending hand-over of an earlier pod at the same address runs now.
func (h *handovers) add(ip string, bound time.Duration, run func()) {
	p := &pendingHandover{run: run}
	h.mu.Lock()
	if h.byIP == nil {
		h.byIP = map[string]*pendingHandover{}
	}
	old := h.byIP[ip]
	h.byIP[ip] = p
	h.n.Store(int32(len(h.byIP)))
	p.timer = time.AfterFunc(bound, func() { h.fire(ip, p) })
	h.mu.Unlock()
	if old != nil {
		old.timer.Stop()
		old.run()
	}
}

// answered is told that a call on ip ended, answered or failed: that pod's
// hand-over, if pending, runs now. One atomic load when none is pending.
func (h *handovers) answered(ip string) {
	if h.n.Load() == 0 {
		return
	}
	h.mu.Lock()
	p := h.byIP[ip]
	h.mu.Unlock()
	if p != nil {
		h.fire(ip, p)
	}
}

// fire runs p unless it already ran.
func (h *handovers) fire(ip string, p *pendingHandover) {
	h.mu.Lock()
	if h.byIP[ip] != p {
		h.mu.Unlock()
		return
	}
	delete(h.byIP, ip)
	h.n.Store(int32(len(h.byIP)))
	h.mu.Unlock()
	p.timer.Stop()
	p.run()
}

// pending returns the hand-overs still waiting.
func (h *handovers) pending() int { return int(h.n.Load()) }

// handOver starts the hand-over of a pod this replica claimed for f, after
// its first answer or HandoverDelay (see handovers). It never blocks: it is
// run on the call path. A stopping gateway does not start one: the pod is
// left specialized and labelled idle, as by a gateway that died before its
// hand-over, and the pool warmers delete it (see RunPoolWarmer). A pod
// taken out of f meanwhile (retired, removed, its function deleted) is
// being deleted, or left to the warmers the same way: it is not handed over.
func (g *Gateway) handOver(f *function, info *functionInfo, p pool.Pod) {
	if g.bg.Err() != nil {
		g.log.Info("Left a claimed pool pod to the pool warmer: the gateway stopped before its hand-over", "function", f.key, "pod", p.Name)
		return
	}
	if !g.claimedBy(f, p.Name) {
		g.log.V(1).Info("Claimed pool pod left its function before its hand-over", "function", f.key, "pod", p.Name)
		return
	}
	go g.adopt(f, info, p)
}

// claimedBy tells whether the view still counts pod name as f's.
func (g *Gateway) claimedBy(f *function, name string) bool {
	for _, p := range g.view.SpecializedOf(f.key) {
		if p.Name == name {
			return true
		}
	}
	return false
}

// adopt hands a claimed pod to its function in the API; a pod that cannot be
// handed over is deleted and leaves rotation.
func (g *Gateway) adopt(f *function, info *functionInfo, p pool.Pod) {
	err := g.adopter.Adopt(f.gone, p, pool.Owner{Function: f.key, UID: info.UID, CodeHash: info.CodeHash, SpecHash: info.Spec.Hash})
	if err == nil {
		g.view.HandedOver(f.key, p.Name, g.now())
		return
	}
	g.log.Error(err, "Failed to hand a specialized pool pod to its function", "function", f.key, "pod", p.Name)
	g.view.Forget(f.key, p.Name, g.now())
	f.tracker.Apply(backends.Event{Kind: backends.Retired, IP: p.IP})
}
