package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/minifaas/minifaas/internal/gateway/backends"
	"github.com/minifaas/minifaas/internal/gateway/coldstart"
	"github.com/minifaas/minifaas/internal/gateway/pool"
	"github.com/minifaas/minifaas/internal/pooltoken"
)

// onQueued is capacity's hook: a call of f started waiting. With no pod at
// all and no replica asked for, it starts the function (pool first, then the
// Deployment); with every pod busy, it adds a pool pod while the function
// is below its maximum, and the autoscaler does the rest.
func (g *Gateway) onQueued(f *function, noPods bool) {
	info := f.info.Load()
	if err := f.Unavailable(); err != nil {
		// Reported unloadable as this call queued: tell it now.
		f.breaker.FailWaiting(err)
		return
	}
	usePool := info.Spec != nil && g.poolKey.Load() != nil
	switch {
	case noPods && info.Replicas == 0:
		g.starter.Start(&f.cold, coldstart.Request{Function: f.key, UsePool: usePool, Deploy: true, Again: g.again(f)})
	case usePool && g.roomForPoolPod(f, info):
		g.starter.Start(&f.cold, coldstart.Request{Function: f.key, UsePool: true, Again: g.again(f)})
	}
}

// again is run when a start of f ends: calls still waiting may need
// another pod (a burst beyond one pod's concurrency).
func (g *Gateway) again(f *function) func() {
	return func() {
		if st := f.breaker.Stats(); st.Waiting > 0 {
			g.onQueued(f, st.Pods == 0)
		}
	}
}

// roomForPoolPod tells whether f may take one more pool pod: below its
// maximum, counting the pods it has and asked for, and the pool has one.
func (g *Gateway) roomForPoolPod(f *function, info *functionInfo) bool {
	if g.view.IdleCount(f.key.Namespace, info.Spec.Runtime) == 0 {
		return false
	}
	return info.Replicas+int32(len(g.view.SpecializedOf(f.key))) < info.MaxReplicas
}

// poolPath claims pool pods for the cold path.
type poolPath struct{ g *Gateway }

var _ coldstart.PoolClaimer = poolPath{}

// Claim specializes an idle pool pod with the function's code and makes it
// one of its ready pods, from the gateway's caches and one HTTP call to the
// pod: nothing on this path waits on the API server. The specialization is
// the claim: a pod accepts one, so two replicas never share a pod between
// two functions. It stops at the first pod that reports the code unloadable;
// a pod that could not fetch the function's package says nothing about the
// code: it is deleted (it took the specialization and exits) and the next
// pod is tried, then the Deployment.
// The pod is handed to its function in the API once it answered its first
// call, or after HandoverDelay (see handovers).
func (p poolPath) Claim(ctx context.Context, key types.NamespacedName) error {
	g := p.g
	f := g.entry(key, false)
	keyBytes := g.poolKey.Load()
	if f == nil || keyBytes == nil {
		return coldstart.ErrNoPoolPod
	}
	info := f.info.Load()
	if info.Spec == nil {
		return coldstart.ErrNoPoolPod
	}
	if g.compiler != nil && f.exists.Load() {
		// Compiled code the cache let go is compiled again, for the next
		// start: this one does not wait for it.
		g.compiler.Want(key.String(), info.Spec.CodeKey, info.Spec.Code)
	}
	tried := map[string]bool{}
	for attempt := 0; attempt < g.cfg.ClaimAttempts; attempt++ {
		if ctx.Err() != nil {
			return coldstart.ErrNoPoolPod
		}
		pod, ok := g.view.Take(key.Namespace, info.Spec.Runtime, key.String(), tried)
		if !ok {
			return coldstart.ErrNoPoolPod
		}
		tried[pod.Name] = true
		start := g.now()
		timeout := g.cfg.SpecializeTimeout
		if info.Spec.Package {
			timeout = g.cfg.PackageSpecializeTimeout
		}
		sctx, cancel := context.WithTimeout(ctx, timeout)
		err := g.claimer.Specialize(sctx, pod, pooltoken.Token(*keyBytes, pod.Namespace, pod.Name), info.Spec)
		cancel()
		elapsed := g.now().Sub(start)
		switch {
		case errors.Is(err, pool.ErrSharedClaim):
			// Another replica gave this pod the same specialization a moment
			// ago, it says. It serves here once the function's status lists
			// it, that is once that replica handed it over: a pod running
			// other code could say the same to take this function's calls.
			g.metrics.specializations.WithLabelValues(key.String(), "shared").Inc()
			return nil
		case errors.Is(err, pool.ErrUnanswered) && ctx.Err() == nil:
			// It may run this function's code now, and nobody will hand it
			// over: it goes, and the next pod is tried.
			g.metrics.specializations.WithLabelValues(key.String(), "unanswered").Inc()
			g.log.Info("Pool pod did not answer its specialization", "function", key, "pod", pod.Name, "error", err.Error())
			go g.deletePod(pod, "Deleted a pool pod that did not answer its specialization")
			continue
		case errors.Is(err, pool.ErrFetchFailed):
			// Its node's fetcher failed, not the code: no poolUnloadable.
			// The pod took the specialization, so it is spent: it goes,
			// whatever ctx says now, and the next pod is tried.
			g.metrics.specializations.WithLabelValues(key.String(), "refused").Inc()
			g.log.Info("Pool pod could not fetch the function's package", "function", key, "pod", pod.Name, "error", err.Error())
			go g.deletePod(pod, "Deleted a pool pod that could not fetch its function's package")
			continue
		case errors.Is(err, pool.ErrUnloadable):
			g.metrics.specializations.WithLabelValues(key.String(), "unloadable").Inc()
			g.log.Info("Function code failed to load in a pool pod", "function", key, "pod", pod.Name, "error", err.Error())
			return err
		case errors.Is(err, pool.ErrUnreachable), err != nil && ctx.Err() != nil:
			// Nothing was accepted (or this start ran out of time before
			// the pod answered): it may be claimed again.
			g.view.Return(pod)
			g.metrics.specializations.WithLabelValues(key.String(), "unreachable").Inc()
			g.log.V(1).Info("Pool pod unreachable", "function", key, "pod", pod.Name, "error", err.Error())
			continue
		case err != nil:
			// It took nothing: back to the claimable pods, where the pool
			// warmer checks it (one specialized by a replica that died
			// goes) and other starts may use it; this one tries the next.
			g.view.Return(pod)
			g.metrics.specializations.WithLabelValues(key.String(), "refused").Inc()
			g.log.Info("Pool pod refused specialization", "function", key, "pod", pod.Name, "error", err.Error())
			continue
		}
		g.metrics.specializations.WithLabelValues(key.String(), "ok").Inc()
		g.metrics.specializationLatency.Observe(elapsed.Seconds())
		g.log.Info("Specialized pool pod", "function", key, "pod", pod.Name, "took", elapsed.String())
		pod.SpecHash = info.Spec.Hash
		g.view.Claimed(key, pod, g.now())
		f.markPool(pod.IP, true)
		// The hand-over waits for the pod's first answer (or HandoverDelay):
		// registered before the pod is ready, so no call can end first.
		f.handovers.add(pod.IP, g.cfg.HandoverDelay, func() { g.handOver(f, info, pod) })
		f.tracker.Apply(backends.Event{Kind: backends.Specialized, IP: pod.IP})
		return nil
	}
	return coldstart.ErrNoPoolPod
}

// coldObserver records how starts went.
type coldObserver struct{ g *Gateway }

var _ coldstart.Observer = coldObserver{}

func (o coldObserver) ScaledFromZero(fn types.NamespacedName, _ int32) {
	o.g.metrics.scaleEvents.WithLabelValues(fn.String(), "up").Inc()
}

// Failed tells a function's waiting callers at once when its code cannot
// load; other failures are retried by the next waiting call after a backoff.
func (o coldObserver) Failed(fn types.NamespacedName, err error) {
	f := o.g.entry(fn, false)
	if f == nil {
		return
	}
	if errors.Is(err, pool.ErrUnloadable) {
		if info := f.info.Load(); info.Spec != nil {
			f.poolUnloadable.Store(&unloadable{specHash: info.Spec.Hash, message: err.Error()})
		}
		if uerr := f.Unavailable(); uerr != nil {
			f.breaker.FailWaiting(uerr)
		}
		return
	}
	// Wake a start again once the backoff has passed, if calls still wait.
	time.AfterFunc(o.g.cfg.ColdStartRetryBackoff, func() {
		if st := f.breaker.Stats(); st.Waiting > 0 {
			o.g.onQueued(f, st.Pods == 0)
		}
	})
}

// RunHealer starts again, every HealInterval, functions that hold calls
// with no pod while no replica is asked for: another replica may have scaled
// them down, or a start failed.
func (g *Gateway) RunHealer(ctx context.Context) {
	every(ctx, g.cfg.HealInterval, func() {
		for _, f := range g.functions() {
			// Calls wait only while every pod is busy or there is none.
			if st := f.breaker.Stats(); st.Waiting > 0 && !f.cold.Running() {
				g.onQueued(f, st.Pods == 0)
			}
		}
	})
}

// warm opens keep-alive connections to a claimable pool pod's admin and
// call ports, so its specialization and first call need no new connection
// on the cold path. The call port of a pod without code answers 503.
func (g *Gateway) warm(p pool.Pod) {
	ctx, cancel := context.WithTimeout(g.bg, g.cfg.ProbeRequestTimeout)
	defer cancel()
	g.claimer.Ready(ctx, p.IP)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+podAddr(p.IP, g.cfg.RunnerPort)+"/", nil)
	if err != nil {
		return
	}
	if resp, err := g.podTransport.RoundTrip(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// RunPoolWarmer renews the warm connections to claimable pool pods before
// they expire, and deletes pods labelled idle that were specialized (a
// replica died between the specialization and the hand-over): seen so on
// two rounds in a row, so a hand-over under way is not mistaken for one.
func (g *Gateway) RunPoolWarmer(ctx context.Context) {
	orphans := map[string]bool{}
	every(ctx, g.cfg.PoolWarmInterval, func() {
		seen := map[string]bool{}
		for _, p := range g.view.IdlePods() {
			g.warm(p)
			st, err := g.podStats(ctx, p.IP)
			if err != nil || st.SpecializeMicros == nil {
				continue
			}
			id := p.Namespace + "/" + p.Name
			seen[id] = true
			if orphans[id] {
				g.deletePod(p, "Deleted a pool pod specialized but never handed over")
			}
		}
		orphans = seen
	})
}
