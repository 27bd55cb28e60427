package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/kube"
	"github.com/minifaas/minifaas/internal/pooltoken"
	"github.com/minifaas/minifaas/internal/resources"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// specialization is what a pool pod is handed: the body of its one
// POST /_/specialize.
type specialization struct {
	Runtime        faasv1.Runtime    `json:"-"`
	Function       string            `json:"function"`
	Handler        string            `json:"handler"`
	Code           string            `json:"code"`
	Env            map[string]string `json:"env"`
	TimeoutSeconds int32             `json:"timeoutSeconds"`
	Concurrency    int32             `json:"concurrency"`
	body           []byte            // encoded once per Function version
	hash           string            // SHA-256 of body, as the runner reports it
}

// poolSpecOf returns how to specialize a pool pod for fn, or nil when fn
// must take the Deployment path: it asks for its own resources, or env
// taken from Secrets or ConfigMaps that a pool pod cannot mount.
func poolSpecOf(fn *faasv1.Function) *specialization {
	if len(fn.Spec.Resources.Limits) > 0 || len(fn.Spec.Resources.Requests) > 0 {
		return nil
	}
	env := make(map[string]string, len(fn.Spec.Env))
	for _, e := range fn.Spec.Env {
		if e.ValueFrom != nil {
			return nil
		}
		env[e.Name] = e.Value
	}
	s := &specialization{
		Runtime: fn.Spec.Runtime, Function: fn.Namespace + "/" + fn.Name, Handler: fn.Spec.Handler,
		Code: fn.Spec.Code, Env: env, TimeoutSeconds: fn.Spec.TimeoutSeconds, Concurrency: fn.Spec.Concurrency,
	}
	body, err := json.Marshal(s)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(body)
	s.body, s.hash = body, hex.EncodeToString(sum[:])
	return s
}

// poolPod is a pool pod as the gateway sees it.
type poolPod struct {
	namespace, name, ip string
	runtime             faasv1.Runtime
	// codeHash is the code a specialized pod runs.
	codeHash string
}

// pools is the gateway's view of pool pods: the idle ready ones it may
// claim, and the specialized ones per function, for the idler.
type pools struct {
	mu sync.Mutex
	// idle are claimable pods by namespace and runtime; guarded by mu.
	idle map[string]map[faasv1.Runtime]map[string]poolPod
	// specialized are claimed pods by function; guarded by mu.
	specialized map[types.NamespacedName]map[string]poolPod
}

func newPools() *pools {
	return &pools{
		idle:        map[string]map[faasv1.Runtime]map[string]poolPod{},
		specialized: map[types.NamespacedName]map[string]poolPod{},
	}
}

// observe records a pool pod's current state; deleted removes it. For a
// specialized pod it returns the function and whether the pod now serves it
// (ready) or is gone.
// claimable is true when the pod just became claimable.
func (ps *pools) observe(pod *corev1.Pod, deleted bool) (p poolPod, fn types.NamespacedName, serving, gone, claimable bool) {
	p = poolPod{namespace: pod.Namespace, name: pod.Name, ip: pod.Status.PodIP,
		runtime: faasv1.Runtime(pod.Labels[resources.RuntimeLabel]), codeHash: pod.Annotations[resources.CodeHashAnnotation]}
	state := pod.Labels[resources.PoolStateLabel]
	fn = types.NamespacedName{Namespace: pod.Namespace, Name: pod.Labels[resources.FunctionLabel]}
	ended := deleted || !pod.DeletionTimestamp.IsZero() || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
	ps.mu.Lock()
	defer ps.mu.Unlock()
	byRuntime := ps.idle[p.namespace]
	if byRuntime == nil {
		byRuntime = map[faasv1.Runtime]map[string]poolPod{}
		ps.idle[p.namespace] = byRuntime
	}
	if byRuntime[p.runtime] == nil {
		byRuntime[p.runtime] = map[string]poolPod{}
	}
	if state == resources.PoolIdle && !ended && p.ip != "" && kube.PodReady(pod) {
		_, known := byRuntime[p.runtime][p.name]
		byRuntime[p.runtime][p.name] = p
		claimable = !known
	} else {
		delete(byRuntime[p.runtime], p.name)
	}
	if state != resources.PoolSpecialized || fn.Name == "" {
		return p, fn, false, false, claimable
	}
	if ended {
		delete(ps.specialized[fn], p.name)
		return p, fn, false, true, false
	}
	if ps.specialized[fn] == nil {
		ps.specialized[fn] = map[string]poolPod{}
	}
	ps.specialized[fn][p.name] = p
	return p, fn, p.ip != "" && kube.PodReady(pod), false, false
}

// idlePods returns every claimable pod.
func (ps *pools) idlePods() []poolPod {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []poolPod
	for _, byRuntime := range ps.idle {
		for _, pods := range byRuntime {
			for _, p := range pods {
				out = append(out, p)
			}
		}
	}
	return out
}

// take removes and returns the idle pod of runtime in namespace that
// function fn ranks first (rendezvous hashing): gateway replicas with the
// same view pick the same pod for the same function, so a burst reaching
// several replicas at once still specializes one pod.
func (ps *pools) take(namespace string, runtime faasv1.Runtime, fn string) (poolPod, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var best poolPod
	var bestScore uint64
	found := false
	for _, p := range ps.idle[namespace][runtime] {
		h := fnv.New64a()
		h.Write([]byte(fn + "\x00" + p.name))
		if score := h.Sum64(); !found || score > bestScore {
			best, bestScore, found = p, score, true
		}
	}
	if found {
		delete(ps.idle[namespace][runtime], best.name)
	}
	return best, found
}

// claimed records a pod this gateway specialized, before the informer does.
func (ps *pools) claimed(fn types.NamespacedName, p poolPod) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.specialized[fn] == nil {
		ps.specialized[fn] = map[string]poolPod{}
	}
	ps.specialized[fn][p.name] = p
}

// specializedOf returns the pool pods serving fn.
func (ps *pools) specializedOf(fn types.NamespacedName) []poolPod {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]poolPod, 0, len(ps.specialized[fn]))
	for _, p := range ps.specialized[fn] {
		out = append(out, p)
	}
	return out
}

// idleCounts returns the claimable pods by namespace and runtime.
func (ps *pools) idleCounts() map[[2]string]int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := map[[2]string]int{}
	for ns, byRuntime := range ps.idle {
		for rt, pods := range byRuntime {
			out[[2]string{ns, string(rt)}] = len(pods)
		}
	}
	return out
}

// claimFromPool specializes an idle pool pod with f's code and makes it one
// of f's ready pods, from the gateway's caches and one HTTP call to the pod:
// nothing on this path waits on the API server. The specialization is the
// claim: a pod accepts one, so two gateways never get the same pod.
func (g *Gateway) claimFromPool(ctx context.Context, f *function) bool {
	info := f.info.Load()
	key := g.poolKey.Load()
	if info.spec == nil || key == nil {
		return false
	}
	for attempt := 0; attempt < 3; attempt++ {
		p, ok := g.pools.take(f.key.Namespace, info.spec.Runtime, f.key.String())
		if !ok {
			return false
		}
		start := g.now()
		err := g.specialize(ctx, p, pooltoken.Token(*key, p.namespace, p.name), info.spec)
		elapsed := g.now().Sub(start)
		switch {
		case errors.Is(err, errSpecializedAlready):
			// Another gateway replica gave this pod the same function a
			// moment ago: it is this function's pod; that replica hands it over.
			g.metrics.specializations.WithLabelValues(f.key.String(), "shared").Inc()
		case err != nil:
			g.metrics.specializations.WithLabelValues(f.key.String(), "refused").Inc()
			g.log.Info("Pool pod refused specialization", "function", f.key, "pod", p.name, "error", err.Error())
			continue
		default:
			g.metrics.specializations.WithLabelValues(f.key.String(), "ok").Inc()
			g.metrics.specializationLatency.Observe(elapsed.Seconds())
			g.log.Info("Specialized pool pod", "function", f.key, "pod", p.name, "took", elapsed.String())
			go g.adopt(f.key, info.UID, info.CodeHash, p)
		}
		p.codeHash = info.CodeHash
		g.pools.claimed(f.key, p)
		f.mu.Lock()
		f.endpoints.specialized[p.ip] = true
		f.recomputeLocked()
		f.mu.Unlock()
		return true
	}
	return false
}

// errSpecializedAlready is a pod's refusal because it took this very
// specialization before.
var errSpecializedAlready = errors.New("pod already specialized with this function")

// specialize POSTs the function to a pool pod's specialization endpoint.
func (g *Gateway) specialize(ctx context.Context, p poolPod, token string, spec *specialization) error {
	body := spec.body
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := "http://" + podAddr(p.ip, g.cfg.RunnerPort) + runnerapi.SpecializePath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.podClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused by the call
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusConflict {
		var refusal struct {
			SpecHash string `json:"specHash"`
		}
		if json.Unmarshal(msg, &refusal) == nil && refusal.SpecHash == spec.hash {
			return errSpecializedAlready
		}
	}
	return fmt.Errorf("%d %s", resp.StatusCode, bytes.TrimSpace(msg))
}

// adopt makes a specialized pool pod the function's in the API: labelled
// as its pod (its Service now selects it), annotated with the code it runs,
// and owned by the Function, so deleting the Function deletes it. It leaves
// its pool for good.
func (g *Gateway) adopt(fn types.NamespacedName, uid types.UID, codeHash string, p poolPod) {
	patch := map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{resources.CodeHashAnnotation: codeHash},
		"labels": map[string]string{
			resources.PoolStateLabel: resources.PoolSpecialized,
			resources.FunctionLabel:  fn.Name,
			resources.ComponentLabel: "function",
		},
		"ownerReferences": []map[string]any{{
			"apiVersion": faasv1.GroupVersion.String(), "kind": "Function",
			"name": fn.Name, "uid": uid, "controller": true,
		}},
	}}
	body, _ := json.Marshal(patch)
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := context.WithTimeout(g.bg, 10*time.Second)
		err := g.pods.Patch(ctx, p.namespace, p.name, body)
		cancel()
		if err == nil {
			return
		}
		g.log.Error(err, "Failed to hand a specialized pool pod to its function", "function", fn, "pod", p.name)
		select {
		case <-g.bg.Done():
			return
		case <-time.After(time.Duration(attempt+1) * time.Second):
		}
	}
}

// warm opens a keep-alive connection to a claimable pool pod, so its
// specialization and first call need no new connection (and no new
// server thread in the runner) on the cold path.
func (g *Gateway) warm(p poolPod) {
	ctx, cancel := context.WithTimeout(g.bg, 2*time.Second)
	defer cancel()
	probeOnce(ctx, g.podClient, "http://"+podAddr(p.ip, g.cfg.RunnerPort)+runnerapi.ReadyPath)
}

// RunPoolWarmer keeps the connections to claimable pool pods warm: idle
// connections expire after a minute, so each is renewed every 30 s.
func (g *Gateway) RunPoolWarmer(ctx context.Context) {
	ticker := time.NewTicker(30 * time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		for _, p := range g.pools.idlePods() {
			g.warm(p)
		}
	}
}

// retireStale stops calls to f's pool pods that run other code than f now
// has, and deletes them: the next call is served by a pod with the new code,
// the way a Deployment rolls. Calls in flight on them finish.
func (g *Gateway) retireStale(f *function, codeHash string) {
	for _, p := range g.pools.specializedOf(f.key) {
		if p.codeHash == codeHash {
			continue
		}
		g.pools.forget(f.key, p)
		f.mu.Lock()
		delete(f.endpoints.specialized, p.ip)
		f.endpoints.retired[p.ip] = true
		f.recomputeLocked()
		f.mu.Unlock()
		g.log.Info("Retiring pool pod with old code", "function", f.key, "pod", p.name)
		go func() {
			ctx, cancel := context.WithTimeout(g.bg, 10*time.Second)
			defer cancel()
			if err := g.pods.Delete(ctx, p.namespace, p.name); err != nil {
				g.log.Error(err, "Failed to delete a pool pod with old code", "function", f.key, "pod", p.name)
			}
		}()
	}
}

// forget drops a specialized pod of fn from the view.
func (ps *pools) forget(fn types.NamespacedName, p poolPod) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.specialized[fn], p.name)
}
