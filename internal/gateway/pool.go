package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/pooltoken"
	"github.com/minifaas/minifaas/internal/resources"
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
	s.body = body
	return s
}

// poolPod is a pool pod as the gateway sees it.
type poolPod struct {
	namespace, name, ip string
	runtime             faasv1.Runtime
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

// observe records a pool pod's current state; deleted removes it.
func (ps *pools) observe(pod *corev1.Pod, deleted bool) (gone *poolPod, fn types.NamespacedName) {
	p := poolPod{namespace: pod.Namespace, name: pod.Name, ip: pod.Status.PodIP,
		runtime: faasv1.Runtime(pod.Labels[resources.RuntimeLabel])}
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
	if state == resources.PoolIdle && !ended && p.ip != "" && podIsReady(pod) {
		byRuntime[p.runtime][p.name] = p
	} else {
		delete(byRuntime[p.runtime], p.name)
	}
	if state == resources.PoolSpecialized && fn.Name != "" {
		if ended {
			delete(ps.specialized[fn], p.name)
			return &p, fn
		}
		if ps.specialized[fn] == nil {
			ps.specialized[fn] = map[string]poolPod{}
		}
		ps.specialized[fn][p.name] = p
	}
	return nil, fn
}

// take removes and returns a random idle pod of runtime in namespace.
func (ps *pools) take(namespace string, runtime faasv1.Runtime) (poolPod, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	idle := ps.idle[namespace][runtime]
	if len(idle) == 0 {
		return poolPod{}, false
	}
	n := rand.IntN(len(idle))
	for name, p := range idle {
		if n == 0 {
			delete(idle, name)
			return p, true
		}
		n--
	}
	return poolPod{}, false
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

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
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
		p, ok := g.pools.take(f.key.Namespace, info.spec.Runtime)
		if !ok {
			return false
		}
		start := g.now()
		err := g.specialize(ctx, p, pooltoken.Token(*key, p.namespace, p.name), info.spec.body)
		elapsed := g.now().Sub(start)
		if err != nil {
			g.metrics.specializations.WithLabelValues(f.key.String(), "refused").Inc()
			g.log.Info("Pool pod refused specialization", "function", f.key, "pod", p.name, "error", err.Error())
			continue
		}
		g.metrics.specializations.WithLabelValues(f.key.String(), "ok").Inc()
		g.metrics.specializationLatency.Observe(elapsed.Seconds())
		g.pools.claimed(f.key, p)
		f.mu.Lock()
		f.endpoints.specialized[p.ip] = true
		f.recomputeLocked()
		f.mu.Unlock()
		g.log.Info("Specialized pool pod", "function", f.key, "pod", p.name, "took", elapsed.String())
		go g.adopt(f.key, info.UID, p)
		return true
	}
	return false
}

// specialize POSTs the function to a pool pod's specialization endpoint.
func (g *Gateway) specialize(ctx context.Context, p poolPod, token string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := "http://" + podAddr(p.ip, g.cfg.RunnerPort) + resources.SpecializePath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.probes.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%d %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// adopt makes a specialized pool pod the function's in the API: labelled
// as its pod (its Service now selects it) and owned by the Function, so
// deleting the Function deletes it. It leaves its pool for good.
func (g *Gateway) adopt(fn types.NamespacedName, uid types.UID, p poolPod) {
	patch := map[string]any{"metadata": map[string]any{
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
