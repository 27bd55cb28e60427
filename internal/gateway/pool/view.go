package pool

import (
	"hash/fnv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// Pod is a pool pod as the gateway sees it.
type Pod struct {
	Namespace, Name, IP string
	Runtime             faasv1.Runtime
	// Pool is the RuntimePool an idle pod was listed by.
	Pool string
	// SpecHash is the specialization a specialized pod runs.
	SpecHash string
}

// Observation is what a change of a function's pool pods means.
type Observation struct {
	Pod Pod
	// Function is the function the pod serves.
	Function types.NamespacedName
	// Serving: the pod just became ready for Function.
	Serving bool
	// Ended: the pod no longer serves Function (gone, terminating, ended).
	Ended bool
}

// View is the gateway's view of pool pods, built from what the operator
// lists in RuntimePool and Function statuses (the gateway reads no pods):
// the idle ready ones it may claim, by namespace and runtime, and the
// specialized ones by function.
type View struct {
	// pendingTTL bounds how long a pod this replica claimed counts as its
	// function's before the function's status lists it.
	pendingTTL time.Duration

	mu sync.Mutex
	// idle are claimable pods by namespace, runtime and name; guarded by mu.
	idle map[string]map[faasv1.Runtime]map[string]Pod
	// listed are the ready idle pods each pool's status last listed, by
	// pool and name; guarded by mu.
	listed map[types.NamespacedName]map[string]Pod
	// taken are pods taken for a claim (namespace/name); a pool status
	// written before the hand-over landed does not make them claimable
	// again. They are dropped once no listing has them; guarded by mu.
	taken map[string]bool
	// specialized are claimed pods by function and name, with whether they
	// are ready; guarded by mu.
	specialized map[types.NamespacedName]map[string]specializedPod
	// forgotten are pods taken out of a function, by namespace/name: a
	// status written before their deletion does not bring them back. They
	// are dropped once the function's status no longer lists them;
	// guarded by mu.
	forgotten map[string]types.NamespacedName
}

type specializedPod struct {
	Pod
	ready bool
	// claimedAt is when this replica claimed it; zero once a status lists it.
	claimedAt time.Time
}

// NewView makes an empty View; pendingTTL bounds how long a claimed pod
// counts for its function before the function's status lists it.
func NewView(pendingTTL time.Duration) *View {
	return &View{
		pendingTTL:  pendingTTL,
		idle:        map[string]map[faasv1.Runtime]map[string]Pod{},
		listed:      map[types.NamespacedName]map[string]Pod{},
		taken:       map[string]bool{},
		specialized: map[types.NamespacedName]map[string]specializedPod{},
		forgotten:   map[string]types.NamespacedName{},
	}
}

// SetIdle records the idle pods a RuntimePool's status lists (nil: the pool
// is gone) and returns the pods that just became claimable.
func (v *View) SetIdle(pool types.NamespacedName, runtime faasv1.Runtime, pods []faasv1.PoolPod) []Pod {
	now := map[string]Pod{}
	for _, p := range pods {
		if p.Ready && p.PodIP != "" {
			now[p.Name] = Pod{Namespace: pool.Namespace, Name: p.Name, IP: p.PodIP, Runtime: runtime, Pool: pool.Name}
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for name, p := range v.listed[pool] {
		if _, ok := now[name]; !ok {
			delete(v.idle[pool.Namespace][p.Runtime], name)
			delete(v.taken, pool.Namespace+"/"+name)
		}
	}
	if len(now) == 0 {
		delete(v.listed, pool)
	} else {
		v.listed[pool] = now
	}
	var claimable []Pod
	for name, p := range now {
		if v.taken[pool.Namespace+"/"+name] {
			continue
		}
		byName := v.idleOf(p.Namespace, p.Runtime)
		if old, known := byName[name]; !known || old.IP != p.IP {
			claimable = append(claimable, p)
		}
		byName[name] = p
	}
	return claimable
}

// idleOf returns the idle set of runtime in namespace, made if need be;
// v.mu is held.
func (v *View) idleOf(namespace string, runtime faasv1.Runtime) map[string]Pod {
	byRuntime := v.idle[namespace]
	if byRuntime == nil {
		byRuntime = map[faasv1.Runtime]map[string]Pod{}
		v.idle[namespace] = byRuntime
	}
	if byRuntime[runtime] == nil {
		byRuntime[runtime] = map[string]Pod{}
	}
	return byRuntime[runtime]
}

// SetSpecialized records the pool pods a Function's status lists (nil: the
// function is gone) and says which of them started or stopped serving it.
// Pods this replica claimed and the status does not list yet stay the
// function's for pendingTTL after their claim.
func (v *View) SetSpecialized(fn types.NamespacedName, pods []faasv1.PoolPod, now time.Time) []Observation {
	v.mu.Lock()
	defer v.mu.Unlock()
	listed := map[string]bool{}
	var out []Observation
	prev := v.specialized[fn]
	next := map[string]specializedPod{}
	for _, lp := range pods {
		id := fn.Namespace + "/" + lp.Name
		listed[id] = true
		if _, ok := v.forgotten[id]; ok {
			continue
		}
		p := specializedPod{Pod: Pod{Namespace: fn.Namespace, Name: lp.Name, IP: lp.PodIP, SpecHash: lp.SpecHash},
			ready: lp.Ready && lp.PodIP != ""}
		old, known := prev[lp.Name]
		if known && old.IP != "" && old.IP != p.IP {
			out = append(out, Observation{Pod: old.Pod, Function: fn, Ended: true})
			known = false
		}
		if p.ready && (!known || !old.ready) {
			out = append(out, Observation{Pod: p.Pod, Function: fn, Serving: true})
		}
		next[lp.Name] = p
	}
	for name, old := range prev {
		if _, ok := next[name]; ok {
			continue
		}
		if !old.claimedAt.IsZero() && now.Sub(old.claimedAt) < v.pendingTTL && !listed[fn.Namespace+"/"+name] {
			next[name] = old
			continue
		}
		out = append(out, Observation{Pod: old.Pod, Function: fn, Ended: true})
	}
	for id, of := range v.forgotten {
		if of == fn && !listed[id] {
			delete(v.forgotten, id)
		}
	}
	if len(next) == 0 {
		delete(v.specialized, fn)
	} else {
		v.specialized[fn] = next
	}
	return out
}

// Take removes and returns the idle pod of runtime in namespace that fn
// ranks first (rendezvous hashing), skipping pods in tried: replicas with
// the same view pick the same pod for the same function, so a burst
// reaching several replicas at once specializes one pod.
func (v *View) Take(namespace string, runtime faasv1.Runtime, fn string, tried map[string]bool) (Pod, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var best Pod
	var bestScore uint64
	found := false
	for _, p := range v.idle[namespace][runtime] {
		if tried[p.Name] {
			continue
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte(fn + "\x00" + p.Name))
		if score := h.Sum64(); !found || score > bestScore {
			best, bestScore, found = p, score, true
		}
	}
	if found {
		delete(v.idle[namespace][runtime], best.Name)
		v.taken[namespace+"/"+best.Name] = true
	}
	return best, found
}

// Return puts back a pod whose claim failed before it took anything,
// unless its pool no longer lists it.
func (v *View) Return(p Pod) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.taken, p.Namespace+"/"+p.Name)
	if listed, ok := v.listed[types.NamespacedName{Namespace: p.Namespace, Name: p.Pool}][p.Name]; ok {
		v.idleOf(p.Namespace, p.Runtime)[p.Name] = listed
	}
}

// Claimed records a pod this replica specialized, before the function's
// status lists it.
func (v *View) Claimed(fn types.NamespacedName, p Pod, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.specialized[fn] == nil {
		v.specialized[fn] = map[string]specializedPod{}
	}
	v.specialized[fn][p.Name] = specializedPod{Pod: p, ready: true, claimedAt: now}
}

// Forget drops a specialized pod of fn from the view, for good.
func (v *View) Forget(fn types.NamespacedName, name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	id := fn.Namespace + "/" + name
	v.forgotten[id] = fn
	delete(v.specialized[fn], name)
	if len(v.specialized[fn]) == 0 {
		delete(v.specialized, fn)
	}
}

// SpecializedOf returns the pool pods serving fn.
func (v *View) SpecializedOf(fn types.NamespacedName) []Pod {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]Pod, 0, len(v.specialized[fn]))
	for _, p := range v.specialized[fn] {
		out = append(out, p.Pod)
	}
	return out
}

// IdlePods returns every claimable pod.
func (v *View) IdlePods() []Pod {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []Pod
	for _, byRuntime := range v.idle {
		for _, pods := range byRuntime {
			for _, p := range pods {
				out = append(out, p)
			}
		}
	}
	return out
}

// IdleCount returns the claimable pods of runtime in namespace.
func (v *View) IdleCount(namespace string, runtime faasv1.Runtime) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.idle[namespace][runtime])
}

// IdleCounts returns the claimable pods by namespace and runtime.
func (v *View) IdleCounts() map[[2]string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[[2]string]int{}
	for ns, byRuntime := range v.idle {
		for rt, pods := range byRuntime {
			out[[2]string{ns, string(rt)}] = len(pods)
		}
	}
	return out
}
