package pool

import (
	"hash/fnv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/kube"
	"github.com/minifaas/minifaas/internal/resources"
)

// Pod is a pool pod as the gateway sees it.
type Pod struct {
	Namespace, Name, IP string
	Runtime             faasv1.Runtime
	// SpecHash is the specialization a specialized pod runs.
	SpecHash string
}

// Observation is what one pod event means.
type Observation struct {
	Pod Pod
	// Function is the function a specialized pod is labelled with.
	Function types.NamespacedName
	// Claimable: the pod just became an idle pod this replica may claim.
	Claimable bool
	// Serving: a specialized pod of Function is ready.
	Serving bool
	// Ended: a specialized pod of Function is gone, terminating or exited.
	Ended bool
	// Exited: the pod's process ended (Failed or Succeeded) and the pod
	// object lingers: it should be deleted.
	Exited bool
}

// View is the gateway's view of pool pods: the idle ready ones it may
// claim, by namespace and runtime, and the specialized ones by function.
type View struct {
	mu sync.Mutex
	// idle are claimable pods; guarded by mu.
	idle map[string]map[faasv1.Runtime]map[string]Pod
	// specialized are claimed pods by function; guarded by mu.
	specialized map[types.NamespacedName]map[string]Pod
	// gone are pods seen deleted or ended since their last Take, so a
	// failed claim does not bring them back; guarded by mu.
	gone map[string]bool
}

// NewView makes an empty View.
func NewView() *View {
	return &View{idle: map[string]map[faasv1.Runtime]map[string]Pod{}, specialized: map[types.NamespacedName]map[string]Pod{}, gone: map[string]bool{}}
}

// Observe records a pool pod's state; deleted means it is gone.
func (v *View) Observe(pod *corev1.Pod, deleted bool) Observation {
	p := Pod{Namespace: pod.Namespace, Name: pod.Name, IP: pod.Status.PodIP,
		Runtime: faasv1.Runtime(pod.Labels[resources.RuntimeLabel]), SpecHash: pod.Annotations[resources.SpecHashAnnotation]}
	o := Observation{Pod: p, Function: types.NamespacedName{Namespace: pod.Namespace, Name: pod.Labels[resources.FunctionLabel]}}
	exited := pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
	ended := deleted || !pod.DeletionTimestamp.IsZero() || exited
	o.Exited = exited && !deleted && pod.DeletionTimestamp.IsZero()
	state := pod.Labels[resources.PoolStateLabel]

	v.mu.Lock()
	defer v.mu.Unlock()
	byRuntime := v.idle[p.Namespace]
	if byRuntime == nil {
		byRuntime = map[faasv1.Runtime]map[string]Pod{}
		v.idle[p.Namespace] = byRuntime
	}
	if byRuntime[p.Runtime] == nil {
		byRuntime[p.Runtime] = map[string]Pod{}
	}
	if state == resources.PoolIdle && !ended && p.IP != "" && kube.PodReady(pod) {
		_, known := byRuntime[p.Runtime][p.Name]
		byRuntime[p.Runtime][p.Name] = p
		o.Claimable = !known
	} else {
		delete(byRuntime[p.Runtime], p.Name)
	}
	if ended {
		v.gone[p.Namespace+"/"+p.Name] = true
	}
	if state != resources.PoolSpecialized || o.Function.Name == "" {
		// A pod this replica claimed can end before its hand-over landed:
		// its function must still learn that it is gone.
		if ended {
			for fn, pods := range v.specialized {
				if _, ok := pods[p.Name]; ok && fn.Namespace == p.Namespace {
					delete(pods, p.Name)
					o.Function, o.Ended = fn, true
				}
			}
		}
		return o
	}
	if ended {
		delete(v.specialized[o.Function], p.Name)
		if len(v.specialized[o.Function]) == 0 {
			delete(v.specialized, o.Function)
		}
		o.Ended = true
		return o
	}
	if v.specialized[o.Function] == nil {
		v.specialized[o.Function] = map[string]Pod{}
	}
	v.specialized[o.Function][p.Name] = p
	o.Serving = p.IP != "" && kube.PodReady(pod)
	return o
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
		delete(v.gone, namespace+"/"+best.Name)
	}
	return best, found
}

// Return puts back a pod whose claim failed before it took anything,
// unless the pod was seen gone meanwhile.
func (v *View) Return(p Pod) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if m := v.idle[p.Namespace][p.Runtime]; m != nil && !v.gone[p.Namespace+"/"+p.Name] {
		m[p.Name] = p
	}
}

// Claimed records a pod this replica specialized, before the informer does.
func (v *View) Claimed(fn types.NamespacedName, p Pod) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.specialized[fn] == nil {
		v.specialized[fn] = map[string]Pod{}
	}
	v.specialized[fn][p.Name] = p
}

// Forget drops a specialized pod of fn from the view.
func (v *View) Forget(fn types.NamespacedName, name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
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
		out = append(out, p)
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
