package gateway

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/backends"
	"github.com/minifaas/minifaas/internal/gateway/capacity"
	"github.com/minifaas/minifaas/internal/gateway/coldstart"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
	"github.com/minifaas/minifaas/internal/gateway/pool"
	"github.com/minifaas/minifaas/internal/resources"
)

// functionInfo is an immutable snapshot of what the gateway needs of a
// Function; informer updates replace it whole.
type functionInfo struct {
	UID        types.UID
	Generation int64
	// CodeHash is resources.CodeHash: what the operator matches load
	// failures of pods by.
	CodeHash                 string
	MinReplicas, MaxReplicas int32
	// Replicas is the Function's desired Deployment replicas, clamped;
	// SpecReplicas is spec.replicas as written (what the scale
	// subresource reads and a conditional update compares with).
	Replicas, SpecReplicas int32
	Concurrency            int32
	TargetUtilization      float64
	ScaleDownDelay         time.Duration
	IdleTimeout            time.Duration
	CallTimeout            time.Duration
	ReadyMessage           string
	// LoadFailed is true when the Ready condition says the current code
	// cannot load.
	LoadFailed bool
	// Unbuilt is why the function will have nothing to run: the build of
	// its first package failed (the PackageBuilt condition); "" while it
	// is being built or once it was.
	Unbuilt string
	// pkg is the built package the code-derived parts were made for.
	pkg builtPackage
	// Spec is how a pool pod is specialized for the function; nil when it
	// takes the Deployment path only.
	Spec *pool.Spec
}

// infoOf snapshots fn. The code-derived parts (hash, encoded
// specialization: up to 768 KiB each) are taken from prev while fn's spec is
// unchanged, so status-only updates do not redo them.
func infoOf(fn *faasv1.Function, prev *functionInfo) *functionInfo {
	delay := 30 * time.Second
	if fn.Spec.ScaleDownDelaySeconds != nil {
		delay = time.Duration(*fn.Spec.ScaleDownDelaySeconds) * time.Second
	}
	util := float64(fn.Spec.TargetUtilization) / 100
	if util <= 0 || util > 1 {
		util = 0.7
	}
	info := &functionInfo{
		UID: fn.UID, Generation: fn.Generation,
		MinReplicas: fn.Spec.MinReplicas, MaxReplicas: max(fn.Spec.MaxReplicas, fn.Spec.MinReplicas, 1),
		Replicas:          resources.DesiredReplicas(fn),
		SpecReplicas:      ptr.Deref(fn.Spec.Replicas, 0),
		Concurrency:       max(fn.Spec.Concurrency, 1),
		TargetUtilization: util,
		ScaleDownDelay:    delay,
		IdleTimeout:       time.Duration(max(fn.Spec.IdleTimeoutSeconds, 1)) * time.Second,
		CallTimeout:       time.Duration(max(fn.Spec.TimeoutSeconds, 1)) * time.Second,
	}
	if p := fn.Status.Package; p != nil {
		info.pkg = builtPackage{digest: p.Digest, url: p.FetchURL, ticket: p.Ticket}
	}
	if prev != nil && prev.CodeHash != "" && prev.UID == fn.UID && prev.Generation == fn.Generation && prev.pkg == info.pkg {
		info.CodeHash, info.Spec = prev.CodeHash, prev.Spec
	} else {
		info.CodeHash, info.Spec = resources.CodeHash(fn), pool.SpecFor(fn)
	}
	if !resources.PackageBuilt(fn) {
		// Being built, or this status not seen yet: calls wait, as for any
		// start. A build that failed is what they are told at once.
		if c := meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionPackageBuilt); c != nil &&
			(c.Reason == faasv1.ReasonBuildFailed || c.Reason == faasv1.ReasonPackageInvalid) {
			info.Unbuilt = c.Reason + ": " + c.Message
		}
	}
	if c := meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionReady); c != nil {
		info.ReadyMessage = c.Reason + ": " + c.Message
		info.LoadFailed = c.Reason == faasv1.ReasonLoadFailed && fn.Status.CodeHash == info.CodeHash
	}
	return info
}

// builtPackage is what of a Function's status the specialization of a pool
// pod carries.
type builtPackage struct{ digest, url, ticket string }

// unloadable is a pool pod's report that a specialization cannot load.
type unloadable struct {
	specHash, message string
}

// function is the gateway's state of one Function. It is the call path's
// httpapi.Target.
type function struct {
	key     types.NamespacedName
	name    string
	info    atomic.Pointer[functionInfo]
	exists  atomic.Bool // the Function itself was seen
	breaker *capacity.Breaker
	tracker *backends.Tracker
	cold    coldstart.State
	// poolUnloadable is set when a pool pod could not load the function's
	// specialization: its callers are answered at once.
	poolUnloadable atomic.Pointer[unloadable]
	// created is when the state was made, for dropping state made for
	// endpoints of a Function never seen.
	created time.Time
	// gone is closed when the function is deleted: its probes and starts end.
	gone   context.Context
	cancel context.CancelFunc

	// handovers are the pool pods this replica claimed whose hand-over
	// waits for their first answer.
	handovers handovers

	mu sync.Mutex
	// poolIPs are the pool pods serving the function; guarded by mu.
	poolIPs map[string]bool
}

var _ httpapi.Target = (*function)(nil)

func (f *function) Acquire(ctx context.Context, hold time.Duration) (capacity.Slot, bool, error) {
	return f.breaker.AcquireWithin(ctx, hold)
}

// Release frees s, then starts its pod's hand-over if it waited for the
// pod's first answer.
func (f *function) Release(s capacity.Slot) {
	f.breaker.Release(s)
	f.handovers.answered(s.Pod.IP)
}

func (f *function) CallTimeout() time.Duration { return f.info.Load().CallTimeout }

func (f *function) ConnFailed(ip string) {
	f.tracker.Apply(backends.Event{Kind: backends.ConnFailed, IP: ip})
}

func (f *function) WaitReason() string { return f.info.Load().ReadyMessage }

// Unavailable answers calls at once while the function's current code
// cannot load and no pod serves it (pods of older code still do during a
// rollout of broken code).
func (f *function) Unavailable() error {
	if len(f.tracker.Ready()) > 0 {
		return nil
	}
	return f.loadError()
}

func (f *function) loadError() error {
	info := f.info.Load()
	if info.Unbuilt != "" {
		return fmt.Errorf("%w: %s has no package to run: %s", httpapi.ErrUnavailable, f.name, info.Unbuilt)
	}
	if info.LoadFailed {
		return fmt.Errorf("%w: %s cannot load its code: %s", httpapi.ErrUnavailable, f.name, info.ReadyMessage)
	}
	if u := f.poolUnloadable.Load(); u != nil && info.Spec != nil && u.specHash == info.Spec.Hash {
		return fmt.Errorf("%w: %s cannot load its code: %s", httpapi.ErrUnavailable, f.name, u.message)
	}
	return nil
}

// setReady gives capacity the ready pods; the tracker calls it in order.
func (f *function) setReady(port int) func(ips []string) {
	return func(ips []string) {
		f.mu.Lock()
		pods := make([]capacity.Pod, len(ips))
		for i, ip := range ips {
			pods[i] = capacity.Pod{IP: ip, Addr: net.JoinHostPort(ip, strconv.Itoa(port)), FromPool: f.poolIPs[ip]}
		}
		f.mu.Unlock()
		f.breaker.SetPods(pods)
	}
}

func (f *function) markPool(ip string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on {
		f.poolIPs[ip] = true
	} else {
		delete(f.poolIPs, ip)
	}
}
