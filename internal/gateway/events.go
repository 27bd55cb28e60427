package gateway

import (
	"context"
	"fmt"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/backends"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
	"github.com/minifaas/minifaas/internal/gateway/pool"
	"github.com/minifaas/minifaas/internal/resources"
)

// OnFunction records a created or updated Function.
func (g *Gateway) OnFunction(fn *faasv1.Function) {
	key := types.NamespacedName{Namespace: fn.Namespace, Name: fn.Name}
	f := g.entry(key, true)
	prev := f.info.Load()
	info := infoOf(fn, prev)
	if prev.UID != "" && prev.UID != info.UID {
		// Deleted and made again under the same name between two events:
		// nothing of the old one carries over.
		g.OnFunctionDeleted(fn.Namespace, fn.Name)
		f = g.entry(key, true)
	}
	f.info.Store(info)
	f.exists.Store(true)
	if g.compiler != nil && info.Spec != nil && info.Spec.CodeKey != "" && (prev.Spec == nil || prev.Spec.CodeKey != info.Spec.CodeKey) {
		// New code: compiled before its first call, if it comes later.
		g.compiler.Want(key.String(), info.Spec.CodeKey, info.Spec.Code)
	}
	if prev.Replicas > 0 && info.Replicas == 0 {
		// Scaled to zero since the last ask: a waiting call asks again now.
		f.cold.Forget()
	}
	f.breaker.SetConcurrency(int(info.Concurrency))
	g.onPoolPods(f, fn.Status.PoolPods)
	g.retireStale(f, info)
	if err := f.Unavailable(); err != nil {
		f.breaker.FailWaiting(err)
	}
	// Replicas dropped to zero while calls wait here: ask again.
	if info.Replicas == 0 {
		if st := f.breaker.Stats(); st.Waiting > 0 && st.Pods == 0 {
			g.onQueued(f, true)
		}
	}
}

// OnFunctionDeleted forgets a Function: its waiting calls are answered 404
// at once, its probes and starts end, and its metric series go.
func (g *Gateway) OnFunctionDeleted(namespace, name string) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	g.mu.Lock()
	f := g.fns[key]
	delete(g.fns, key)
	g.mu.Unlock()
	if f == nil {
		return
	}
	f.exists.Store(false)
	g.view.DeleteFunction(key)
	if g.compiler != nil {
		g.compiler.Forget(key.String())
	}
	f.breaker.Close(fmt.Errorf("%w: Function %s was deleted", httpapi.ErrNotFound, key))
	f.cancel()
	g.metrics.forget(key.String())
}

// OnEndpointSlice records a function's EndpointSlice; deleted removes it.
// Slices of a Function not seen yet are kept (they may come first), unless
// they say nothing: a late empty or deleted slice makes no state.
func (g *Gateway) OnEndpointSlice(slice *discoveryv1.EndpointSlice, deleted bool) {
	name := slice.Labels[resources.FunctionLabel]
	if name == "" {
		return
	}
	var addrs []backends.Addr
	if !deleted {
		addrs = addrsOf(slice)
	}
	f := g.entry(types.NamespacedName{Namespace: slice.Namespace, Name: name}, len(addrs) > 0)
	if f == nil {
		return
	}
	if !deleted && addrs == nil {
		addrs = []backends.Addr{}
	}
	f.tracker.Apply(backends.Event{Kind: backends.SliceChanged, Slice: slice.Name, Addrs: addrs})
}

// addrsOf reads the pod addresses of an EndpointSlice.
func addrsOf(slice *discoveryv1.EndpointSlice) []backends.Addr {
	var out []backends.Addr
	for _, ep := range slice.Endpoints {
		ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
		terminating := ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
		for _, ip := range ep.Addresses {
			out = append(out, backends.Addr{IP: ip, Ready: ready && !terminating, Terminating: terminating})
		}
	}
	return out
}

// OnRuntimePool records the idle pods a RuntimePool's status lists;
// deleted means the pool is gone. Pods that just became claimable are
// warmed.
func (g *Gateway) OnRuntimePool(rp *faasv1.RuntimePool, deleted bool) {
	var listed []faasv1.PoolPod
	if !deleted {
		listed = rp.Status.IdlePods
	}
	for _, p := range g.view.SetIdle(types.NamespacedName{Namespace: rp.Namespace, Name: rp.Name}, rp.Spec.Runtime, listed) {
		go g.warm(p)
	}
}

// onPoolPods records the pool pods a Function's status lists. A pod
// specialized by another replica serves here too once a probe confirms
// it, ahead of the EndpointSlice, so this replica does not claim a second
// pod for it.
func (g *Gateway) onPoolPods(f *function, listed []faasv1.PoolPod) {
	g.applyPool(g.view.SetSpecialized(f.key, listed, g.now()))
}

// applyPool routes by what the view observed of functions' pool pods.
func (g *Gateway) applyPool(obs []pool.Observation) {
	for _, o := range obs {
		f := g.entry(o.Function, false)
		if f == nil {
			continue
		}
		if o.Ended {
			f.markPool(o.Pod.IP, false)
			f.tracker.Apply(backends.Event{Kind: backends.Ended, IP: o.Pod.IP})
			continue
		}
		if info := f.info.Load(); f.exists.Load() && info.Spec != nil && o.Pod.SpecHash != "" && o.Pod.SpecHash != info.Spec.Hash {
			g.retireStale(f, info)
			continue
		}
		f.markPool(o.Pod.IP, true)
		f.tracker.Apply(backends.Event{Kind: backends.SpecializedElsewhere, IP: o.Pod.IP})
	}
}

// retireStale stops calls to f's pool pods specialized with anything other
// than f has now, and deletes them: the next call gets a pod with the new
// specialization, the way a Deployment rolls. Calls in flight finish.
func (g *Gateway) retireStale(f *function, info *functionInfo) {
	for _, p := range g.view.SpecializedOf(f.key) {
		if info.Spec != nil && p.SpecHash == info.Spec.Hash {
			continue
		}
		g.view.Forget(f.key, p.Name, g.now())
		f.tracker.Apply(backends.Event{Kind: backends.Retired, IP: p.IP})
		g.log.Info("Retiring pool pod with an old specialization", "function", f.key, "pod", p.Name)
		go func() {
			if !g.deletePod(p, "Deleted a pool pod with an old specialization") {
				// Counted again, so the next status of f retires it again.
				g.view.Unforget(f.key, p.Name)
			}
		}()
	}
}

// RunJanitor drops, every PendingTTL, the state made for endpoints of
// Functions never seen: late events of deleted Functions leave nothing.
// It also ends the pool pods no status confirmed in time (see View.Sweep).
func (g *Gateway) RunJanitor(ctx context.Context) {
	every(ctx, g.cfg.PendingTTL, func() {
		now := g.now()
		g.applyPool(g.view.Sweep(now))
		g.mu.Lock()
		for key, f := range g.fns {
			if !f.exists.Load() && now.Sub(f.created) > g.cfg.PendingTTL {
				delete(g.fns, key)
				f.cancel()
			}
		}
		g.mu.Unlock()
	})
}

// deletePod deletes a pool pod and says whether it did.
func (g *Gateway) deletePod(p pool.Pod, msg string) bool {
	ctx, cancel := context.WithTimeout(g.bg, g.cfg.APITimeout)
	defer cancel()
	if err := g.pods.Delete(ctx, p.Namespace, p.Name); err != nil {
		g.log.Error(err, "Failed to delete pool pod", "pod", p.Namespace+"/"+p.Name)
		return false
	}
	g.log.Info(msg, "pod", p.Namespace+"/"+p.Name)
	return true
}
