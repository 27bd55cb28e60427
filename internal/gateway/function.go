package gateway

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// functionInfo is an immutable snapshot of what the gateway needs of a
// Function; informer updates replace it whole.
type functionInfo struct {
	UID types.UID
	// Generation is the Function's metadata.generation this was made from.
	Generation int64
	// CodeHash identifies the code pods must run (resources.CodeHash).
	CodeHash                 string
	MinReplicas, MaxReplicas int32
	// Desired is the replica count the Function's spec asks for, clamped.
	Desired      int32
	Concurrency  int32
	IdleTimeout  time.Duration
	CallTimeout  time.Duration
	ReadyMessage string
	// spec is what a pool pod is specialized with; nil when the function
	// cannot be served from a pool (see poolSpecOf).
	spec *specialization
}

// infoOf snapshots fn. The code-derived parts (hash, encoded
// specialization: up to 768 KiB each) are taken from prev when fn's spec has
// not changed since, so status-only updates do not redo them.
func infoOf(fn *faasv1.Function, prev *functionInfo) *functionInfo {
	info := &functionInfo{
		UID:         fn.UID,
		Generation:  fn.Generation,
		MinReplicas: fn.Spec.MinReplicas,
		MaxReplicas: fn.Spec.MaxReplicas,
		Desired:     resources.DesiredReplicas(fn),
		Concurrency: max(fn.Spec.Concurrency, 1),
		IdleTimeout: time.Duration(fn.Spec.IdleTimeoutSeconds) * time.Second,
		CallTimeout: time.Duration(max(fn.Spec.TimeoutSeconds, 1)) * time.Second,
	}
	if c := meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionReady); c != nil {
		info.ReadyMessage = c.Reason + ": " + c.Message
	}
	if prev != nil && prev.CodeHash != "" && prev.UID == fn.UID && prev.Generation == fn.Generation {
		info.CodeHash, info.spec = prev.CodeHash, prev.spec
	} else {
		info.CodeHash, info.spec = resources.CodeHash(fn), poolSpecOf(fn)
	}
	return info
}

// pod is one ready runner pod of a function. inFlight is guarded by the
// function's mu.
type pod struct {
	ip       string
	addr     string
	inFlight int32
	// fromPool is true for a pool pod specialized by the gateway.
	fromPool bool
}

// function is the gateway's state of one Function: its settings, its
// ready pods, and the calls in flight and waiting.
type function struct {
	key  types.NamespacedName
	port int // the runner port of its pods
	info atomic.Pointer[functionInfo]
	// exists is false until the Function itself is seen: its endpoints may
	// be known first.
	exists atomic.Bool

	mu sync.Mutex
	// pods are the ready pods by IP; order is their round-robin order.
	pods  map[string]*pod
	order []*pod
	next  int
	// changed is closed and replaced whenever a call may now find a pod:
	// one appeared, one got a free slot, or the function changed.
	changed  chan struct{}
	waiting  int
	inFlight int
	// lastActivity is when a call last ended or started waiting.
	lastActivity time.Time
	// scaling is true from a scale-up from zero until a pod is ready or
	// the scale-up failed; it makes a burst cause exactly one.
	scaling bool
	// lastScaleFailure delays the next scale-up after one failed.
	lastScaleFailure time.Time
	// endpoints are the function's EndpointSlice addresses and what the
	// gateway's own probes found of them.
	endpoints endpointSet
}

func newFunction(key types.NamespacedName, port int, info *functionInfo, now time.Time) *function {
	f := &function{
		key:          key,
		port:         port,
		pods:         map[string]*pod{},
		changed:      make(chan struct{}),
		lastActivity: now,
		endpoints:    newEndpointSet(),
	}
	f.info.Store(info)
	return f
}

// broadcastLocked wakes every waiting call. f.mu must be held.
func (f *function) broadcastLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// setPodsLocked replaces the ready pods, keeping in-flight counts of pods
// that stay. f.mu must be held.
func (f *function) setPodsLocked(ips []string) {
	next := make(map[string]*pod, len(ips))
	order := make([]*pod, 0, len(ips))
	for _, ip := range ips {
		p, ok := f.pods[ip]
		if !ok {
			p = &pod{ip: ip, addr: podAddr(ip, f.port), fromPool: f.endpoints.specialized[ip]}
		}
		next[ip] = p
		order = append(order, p)
	}
	added := len(next) > 0 && len(f.pods) < len(next)
	f.pods, f.order = next, order
	if len(next) > 0 {
		f.scaling = false
	}
	if added {
		f.broadcastLocked()
	}
}

func podAddr(ip string, port int) string {
	return net.JoinHostPort(ip, strconv.Itoa(port))
}
