package gateway

import (
	"context"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// Gateway routes calls to function pods and scales functions from zero.
// Its view of Functions, endpoints and pool pods is fed by informers
// (OnFunction, OnEndpointSlice, OnPoolPod); it writes to the cluster only
// through its Scaler and its PodWriter.
type Gateway struct {
	cfg     Config
	scaler  Scaler
	pods    PodWriter
	metrics *Metrics
	log     logr.Logger
	now     func() time.Time
	proxy   *httputil.ReverseProxy
	probes  *http.Client
	// podClient shares the proxy's keep-alive connections to pods.
	podClient *http.Client
	// bg bounds background work (probes, scale-ups) to the gateway's life.
	bg context.Context

	// pools is the view of pool pods; poolKey derives their tokens, nil
	// until the key Secret has been read (the pool path is off until then).
	pools   *pools
	poolKey atomic.Pointer[[]byte]

	mu  sync.RWMutex
	fns map[types.NamespacedName]*function // guarded by mu
}

// PodWriter changes pool pods: the gateway hands claimed ones to their
// function and deletes them when the function idles.
type PodWriter interface {
	Patch(ctx context.Context, namespace, name string, mergePatch []byte) error
	Delete(ctx context.Context, namespace, name string) error
}

// New builds a Gateway. bg ends its background work when done.
func New(bg context.Context, cfg Config, scaler Scaler, pods PodWriter, metrics *Metrics, log logr.Logger) *Gateway {
	transport := newPodTransport()
	g := &Gateway{
		cfg: cfg, scaler: scaler, pods: pods, metrics: metrics, log: log, now: time.Now, bg: bg,
		pools:     newPools(),
		proxy:     newProxy(transport),
		podClient: &http.Client{Transport: transport},
		probes:    &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}},
		fns:       map[types.NamespacedName]*function{},
	}
	metrics.watchPools(g.pools)
	return g
}

// SetPoolKey enables the pool path with the key shared with the operator.
func (g *Gateway) SetPoolKey(key []byte) { g.poolKey.Store(&key) }

// OnPoolPod records a pool pod's state; deleted means it is gone. A pool
// pod specialized by another gateway replica serves its function here too
// from the moment it is labelled as the function's, ahead of the
// EndpointSlice, so this replica does not claim a second pod for it.
func (g *Gateway) OnPoolPod(pod *corev1.Pod, deleted bool) {
	p, fn, serving, gone, claimable := g.pools.observe(pod, deleted)
	if claimable {
		go g.warm(p)
	}
	if !serving && !gone {
		return
	}
	f := g.entry(fn)
	if info := f.info.Load(); serving && f.exists.Load() && p.codeHash != "" && p.codeHash != info.CodeHash {
		g.retireStale(f, info.CodeHash)
		return
	}
	f.mu.Lock()
	if serving != f.endpoints.specialized[p.ip] {
		if serving {
			f.endpoints.specialized[p.ip] = true
		} else {
			delete(f.endpoints.specialized, p.ip)
		}
		f.recomputeLocked()
	}
	f.mu.Unlock()
}

// lookup returns the state of a Function the gateway knows, or nil.
func (g *Gateway) lookup(key types.NamespacedName) *function {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if f := g.fns[key]; f != nil && f.exists.Load() {
		return f
	}
	return nil
}

// entry returns the state kept for key, making it if needed: an
// EndpointSlice may arrive before its Function.
func (g *Gateway) entry(key types.NamespacedName) *function {
	g.mu.Lock()
	defer g.mu.Unlock()
	f, ok := g.fns[key]
	if !ok {
		f = newFunction(key, g.cfg.RunnerPort, &functionInfo{Concurrency: 1}, g.now())
		g.fns[key] = f
	}
	return f
}

// OnFunction records a created or updated Function.
func (g *Gateway) OnFunction(fn *faasv1.Function) {
	f := g.entry(types.NamespacedName{Namespace: fn.Namespace, Name: fn.Name})
	info := infoOf(fn, f.info.Load())
	f.info.Store(info)
	f.exists.Store(true)
	g.retireStale(f, info.CodeHash)
	// Waiting calls re-check: the function may now need a scale-up (scaled
	// to zero meanwhile) or have a new concurrency.
	f.mu.Lock()
	f.broadcastLocked()
	f.mu.Unlock()
}

// OnFunctionDeleted forgets a Function; calls waiting for it time out.
func (g *Gateway) OnFunctionDeleted(namespace, name string) {
	g.mu.Lock()
	delete(g.fns, types.NamespacedName{Namespace: namespace, Name: name})
	g.mu.Unlock()
}

// OnEndpointSlice records a function's EndpointSlice; deleted removes it.
func (g *Gateway) OnEndpointSlice(slice *discoveryv1.EndpointSlice, deleted bool) {
	name := slice.Labels[resources.FunctionLabel]
	if name == "" {
		return
	}
	f := g.entry(types.NamespacedName{Namespace: slice.Namespace, Name: name})
	var addrs []endpointAddr
	if !deleted {
		addrs = addrsOf(slice)
		if addrs == nil {
			addrs = []endpointAddr{}
		}
	}
	f.mu.Lock()
	toProbe := f.setSliceLocked(slice.Name, addrs)
	f.mu.Unlock()
	for _, ip := range toProbe {
		go f.probe(g.bg, g.probes, ip, g.cfg.ProbeInterval)
	}
}

// requestScaleUp is the scaleUpRequester of every function: one goroutine
// per burst specializes a pool pod or, when there is none to be had, asks
// the API server for one replica of the function's Deployment.
func (g *Gateway) requestScaleUp(f *function) {
	go func() {
		ctx, cancel := context.WithTimeout(g.bg, 10*time.Second)
		defer cancel()
		if g.claimFromPool(ctx, f) {
			return
		}
		var from int32
		var changed bool
		// Another gateway replica scaling the same function at once makes
		// this one conflict; re-reading then finds the replica it asked for.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var err error
			from, changed, err = g.scaler.ScaleIf(ctx, f.key, 1, func(cur int32) bool { return cur < 1 })
			return err
		})
		if err != nil {
			g.log.Error(err, "Failed to scale function from zero", "function", f.key)
		} else if changed {
			g.metrics.scaleEvents.WithLabelValues(f.key.String(), "up").Inc()
			g.log.Info("Scaled function from zero", "function", f.key, "from", from, "to", 1)
		}
		f.scaleUpDone(err, g.now())
	}()
}
