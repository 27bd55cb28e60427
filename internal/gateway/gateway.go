package gateway

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/minifaas/minifaas/internal/gateway/backends"
	"github.com/minifaas/minifaas/internal/gateway/capacity"
	"github.com/minifaas/minifaas/internal/gateway/coldstart"
	"github.com/minifaas/minifaas/internal/gateway/compiled"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
	"github.com/minifaas/minifaas/internal/gateway/pool"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// Gateway is the state behind the call path: one function entry per
// Function, fed by informers (OnFunction, OnEndpointSlice, OnRuntimePool), and
// the cold path, the pool and the load reports wired to them. It writes to
// the cluster only through its Scaler and its PodWriter.
type Gateway struct {
	cfg     Config
	scaler  coldstart.Scaler
	pods    pool.PodWriter
	metrics *Metrics
	log     logr.Logger
	now     func() time.Time
	// bg bounds background work (probes, starts, hand-overs) to the
	// gateway's life; it outlives the HTTP server during a shutdown.
	bg context.Context

	// podTransport carries calls, specializations and warm-ups to pods.
	podTransport *http.Transport
	probeClient  *http.Client
	starter      *coldstart.Starter
	view         *pool.View
	claimer      pool.Claimer
	adopter      pool.Adopter
	// compiler compiles new inline Python code ahead of its first call,
	// for the claimer; compilerAt are the compiler's pods. Both nil when
	// compiling ahead is off.
	compiler   *compiled.Warmer
	compilerAt *compiled.Endpoints
	// poolKey derives pool pods' tokens; nil until the key Secret has been
	// read (the pool path is off until then).
	poolKey atomic.Pointer[[]byte]

	mu  sync.RWMutex
	fns map[types.NamespacedName]*function // guarded by mu
}

// New builds a Gateway; bg ends its background work when done.
func New(bg context.Context, cfg Config, scaler coldstart.Scaler, pods pool.PodWriter, metrics *Metrics, log logr.Logger) *Gateway {
	g := &Gateway{
		cfg: cfg, scaler: scaler, pods: pods, metrics: metrics, log: log, now: time.Now, bg: bg,
		podTransport: newPodTransport(cfg),
		view:         pool.NewView(cfg.HandoverTTL),
		fns:          map[types.NamespacedName]*function{},
	}
	g.probeClient = &http.Client{Timeout: cfg.ProbeRequestTimeout, Transport: g.podTransport}
	g.claimer = pool.Claimer{Client: &http.Client{Transport: g.podTransport}, AdminPort: cfg.RunnerAdminPort}
	if cfg.CompilerService != "" {
		cache := compiled.NewCache(cfg.CompiledCacheBytes)
		g.compilerAt = compiled.NewEndpoints(runnerapi.CompilerPort)
		g.compiler = compiled.NewWarmer(cache, compiled.Client{HTTP: &http.Client{Transport: g.podTransport}}, g.compilerAt,
			compiled.Timing{Timeout: cfg.CompileTimeout, RetryInterval: cfg.CompileRetryInterval, Attempts: cfg.CompileAttempts}, log.WithName("compiler"), metrics.Compiled)
		g.claimer.Compiled = cache
	}
	g.adopter = pool.Adopter{Pods: pods, Attempts: cfg.AdoptAttempts, Backoff: cfg.AdoptBackoff, Timeout: cfg.APITimeout}
	g.starter = coldstart.NewStarter(bg, scaler, poolPath{g}, coldObserver{g},
		coldstart.Timing{Timeout: cfg.ColdStartTimeout, RetryBackoff: cfg.ColdStartRetryBackoff, AskGrace: cfg.ColdStartAskGrace}, log, g.now)
	metrics.watchPools(g.view)
	metrics.watchLoad(g.Report)
	return g
}

// newPodTransport is the keep-alive transport to runner pods, shared by
// calls, specializations and probes: a connection warmed to an idle pool pod
// carries its specialization, then the first call.
func newPodTransport(cfg Config) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: cfg.DialTimeout}).DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       cfg.PodKeepAliveTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: 0, // bounded per call by the function's timeout
	}
}

// RunCompiler compiles new functions' inline code ahead of their first
// call until ctx is done; it returns at once when that is off.
func (g *Gateway) RunCompiler(ctx context.Context) {
	if g.compiler != nil {
		g.compiler.Run(ctx)
	}
}

// OnCompilerSlice records an EndpointSlice of the compiler's Service.
func (g *Gateway) OnCompilerSlice(slice *discoveryv1.EndpointSlice, deleted bool) {
	if g.compilerAt != nil {
		g.compilerAt.OnSlice(slice, deleted)
	}
}

// SetPoolKey enables the pool path with the key shared with the operator.
func (g *Gateway) SetPoolKey(key []byte) { g.poolKey.Store(&key) }

// Resolve is the call path's lookup: a Function that exists, or nil.
func (g *Gateway) Resolve(key types.NamespacedName) httpapi.Target {
	g.mu.RLock()
	f := g.fns[key]
	g.mu.RUnlock()
	if f == nil || !f.exists.Load() {
		return nil
	}
	return f
}

// entry returns the state kept for key, making it if needed: an
// EndpointSlice may arrive before its Function. create false only looks.
func (g *Gateway) entry(key types.NamespacedName, create bool) *function {
	g.mu.RLock()
	f := g.fns[key]
	g.mu.RUnlock()
	if f != nil || !create {
		return f
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if f = g.fns[key]; f != nil {
		return f
	}
	f = g.newFunction(key)
	g.fns[key] = f
	return f
}

func (g *Gateway) newFunction(key types.NamespacedName) *function {
	ctx, cancel := context.WithCancel(g.bg)
	f := &function{key: key, name: key.String(), created: g.now(), gone: ctx, cancel: cancel, poolIPs: map[string]bool{}}
	f.info.Store(&functionInfo{Concurrency: 1, MaxReplicas: 1, IdleTimeout: time.Minute, CallTimeout: 30 * time.Second, TargetUtilization: 0.7})
	f.breaker = capacity.New(1, g.cfg.MaxWaiting, g.now, capacity.Hooks{
		Queued: func(noPods bool) { g.onQueued(f, noPods) },
	})
	f.tracker = backends.NewTracker(ctx, g.probe,
		backends.ProbeTiming{Interval: g.cfg.ProbeInterval, FastFor: g.cfg.ProbeFastFor, MaxInterval: g.cfg.ProbeMaxInterval, Timeout: g.cfg.ProbeTimeout},
		f.setReady(g.cfg.RunnerPort))
	return f
}

// probe asks a runner's readiness endpoint once.
func (g *Gateway) probe(ctx context.Context, ip string) bool {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ProbeRequestTimeout)
	defer cancel()
	return g.claimer.Ready(ctx, ip)
}

// functions returns every function whose Function exists.
func (g *Gateway) functions() []*function {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]*function, 0, len(g.fns))
	for _, f := range g.fns {
		if f.exists.Load() {
			out = append(out, f)
		}
	}
	return out
}

// podAddr is where a runner's port listens.
func podAddr(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }
