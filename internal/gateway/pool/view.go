package pool

import (
	"hash/fnv"
	"net/netip"
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
	// end (Ended is reported, so their address is free again) once the
	// function's status no longer lists them, or pendingTTL after they were
	// forgotten if it never did; guarded by mu.
	forgotten map[string]forgottenPod
}

type forgottenPod struct {
	Pod
	fn types.NamespacedName
	at time.Time
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
		forgotten:   map[string]forgottenPod{},
	}
}

// SetIdle records the idle pods a RuntimePool's status lists (nil: the pool
// is gone) and returns the pods that just became claimable.
func (v *View) SetIdle(pool types.NamespacedName, runtime faasv1.Runtime, pods []faasv1.PoolPod) []Pod {
	now := map[string]Pod{}
	for _, p := range pods {
		if p.Ready && validIP(p.PodIP) {
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

// SetSpecialized records the pool pods a Function's status lists and says
// which of them started or stopped serving it. Pods this replica claimed
// and the status does not list yet stay the function's for pendingTTL
// after their hand-over. A listed pod leaves the idle set at once, in
// case its pool's status still lists it.
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
		v.leaveIdle(fn.Namespace, lp.Name)
		if _, ok := v.forgotten[id]; ok {
			continue
		}
		ip := lp.PodIP
		if !validIP(ip) {
			ip = ""
		}
		p := specializedPod{Pod: Pod{Namespace: fn.Namespace, Name: lp.Name, IP: ip, SpecHash: lp.SpecHash}, ready: lp.Ready && ip != ""}
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
		if old.pending(now, v.pendingTTL) && !listed[fn.Namespace+"/"+name] {
			next[name] = old
			continue
		}
		out = append(out, Observation{Pod: old.Pod, Function: fn, Ended: true})
	}
	for id, f := range v.forgotten {
		if f.fn == fn && !listed[id] {
			delete(v.forgotten, id)
			out = append(out, Observation{Pod: f.Pod, Function: fn, Ended: true})
		}
	}
	if len(next) == 0 {
		delete(v.specialized, fn)
	} else {
		v.specialized[fn] = next
	}
	return out
}

// pending: p is a claim of this replica that no status listed yet, made
// less than ttl ago.
func (p specializedPod) pending(now time.Time, ttl time.Duration) bool {
	return !p.claimedAt.IsZero() && now.Sub(p.claimedAt) < ttl
}

// leaveIdle takes a pod another replica specialized out of the idle set,
// until its pool no longer lists it; v.mu is held.
func (v *View) leaveIdle(namespace, name string) {
	for pool, pods := range v.listed {
		if p, ok := pods[name]; ok && pool.Namespace == namespace {
			delete(v.idle[namespace][p.Runtime], name)
			v.taken[namespace+"/"+name] = true
		}
	}
}

// DeleteFunction drops everything of a deleted function: its pods go with
// it (the garbage collector deletes them).
func (v *View) DeleteFunction(fn types.NamespacedName) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.specialized, fn)
	for id, f := range v.forgotten {
		if f.fn == fn {
			delete(v.forgotten, id)
		}
	}
}

// Sweep ends the claims no status listed within pendingTTL of their
// hand-over and the forgotten pods no status dropped within pendingTTL,
// for functions whose status has not changed since: without it, a pod that
// died before being listed would count for its function forever.
func (v *View) Sweep(now time.Time) []Observation {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []Observation
	for fn, pods := range v.specialized {
		for name, p := range pods {
			if !p.claimedAt.IsZero() && !p.pending(now, v.pendingTTL) {
				delete(pods, name)
				out = append(out, Observation{Pod: p.Pod, Function: fn, Ended: true})
			}
		}
		if len(pods) == 0 {
			delete(v.specialized, fn)
		}
	}
	for id, f := range v.forgotten {
		if now.Sub(f.at) >= v.pendingTTL {
			delete(v.forgotten, id)
			out = append(out, Observation{Pod: f.Pod, Function: f.fn, Ended: true})
		}
	}
	return out
}

// validIP: s is an IP address (statuses are API input: a host name would
// make the gateway resolve and dial whatever it names).
func validIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
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

// HandedOver restarts the wait for the function's status to list a claimed
// pod: the hand-over itself may have taken a while.
func (v *View) HandedOver(fn types.NamespacedName, name string, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if p, ok := v.specialized[fn][name]; ok && !p.claimedAt.IsZero() {
		p.claimedAt = now
		v.specialized[fn][name] = p
	}
}

// Forget takes a specialized pod of fn out of the view while it is deleted:
// statuses that still list it do not bring it back.
func (v *View) Forget(fn types.NamespacedName, name string, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.specialized[fn][name]
	if !ok {
		return
	}
	v.forgotten[fn.Namespace+"/"+name] = forgottenPod{Pod: p.Pod, fn: fn, at: now}
	delete(v.specialized[fn], name)
	if len(v.specialized[fn]) == 0 {
		delete(v.specialized, fn)
	}
}

// Unforget puts back a pod whose deletion failed: it counts for its
// function again, so the deletion is tried again.
func (v *View) Unforget(fn types.NamespacedName, name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	id := fn.Namespace + "/" + name
	f, ok := v.forgotten[id]
	if !ok || f.fn != fn {
		return
	}
	delete(v.forgotten, id)
	if v.specialized[fn] == nil {
		v.specialized[fn] = map[string]specializedPod{}
	}
	v.specialized[fn][name] = specializedPod{Pod: f.Pod}
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
