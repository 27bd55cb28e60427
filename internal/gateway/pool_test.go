package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/minifaas/minifaas/internal/pooltoken"
	"github.com/minifaas/minifaas/internal/resources"
)

// recordingPods records what the gateway asks of pool pods.
type recordingPods struct {
	mu      sync.Mutex
	patched map[string]map[string]any
	deleted []string
}

func (r *recordingPods) Patch(_ context.Context, ns, name string, patch []byte) error {
	var p map[string]any
	_ = json.Unmarshal(patch, &p)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.patched[ns+"/"+name] = p
	return nil
}

func (r *recordingPods) Delete(_ context.Context, ns, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deleted = append(r.deleted, ns+"/"+name)
	return nil
}

func poolPodObject(name, ip string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{
			resources.PoolLabel: "python", resources.PoolStateLabel: resources.PoolIdle, resources.RuntimeLabel: "python",
		}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func TestColdCallIsServedBySpecializingAPoolPod(t *testing.T) {
	key, _ := pooltoken.NewKey()
	var specializations atomic.Int32
	var gotSpec specialization
	var specialized atomic.Bool
	release := make(chan struct{}) // holds the specialization until every call waits
	runner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case resources.SpecializePath:
			<-release
			if r.Header.Get("Authorization") != "Bearer "+pooltoken.Token(key, "default", "pool-python-aaaaa") {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			if !specialized.CompareAndSwap(false, true) {
				w.WriteHeader(http.StatusConflict)
				return
			}
			specializations.Add(1)
			body, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(body, &gotSpec)
			_, _ = w.Write([]byte(`{"specializeMicros": 300}`))
		default:
			_, _ = w.Write([]byte("from the pool pod"))
		}
	}))
	defer runner.Close()
	port := portOf(t, runner)
	scaler := &fakeScaler{replicas: map[types.NamespacedName]int32{}}
	pods := &recordingPods{patched: map[string]map[string]any{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	metrics := NewMetrics()
	gw := New(ctx, testConfig(port), scaler, pods, metrics, discardLog())
	h := routes(gw, metrics)
	fn := testFunction("hello")
	fn.UID = "uid-1"
	gw.OnFunction(fn)
	gw.OnPoolPod(poolPodObject("pool-python-aaaaa", "127.0.0.1"), false)
	gw.SetPoolKey(key)

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if rec := do(h, "GET", "/invoke/hello", "", nil); rec.Code != 200 || rec.Body.String() != "from the pool pod" {
				t.Errorf("cold call: %d %q", rec.Code, rec.Body)
			}
		})
	}
	f := gw.lookup(types.NamespacedName{Namespace: "default", Name: "hello"})
	eventuallyTrue(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.waiting == 20
	})
	close(release)
	wg.Wait()
	if n := specializations.Load(); n != 1 {
		t.Errorf("specializations = %d, want 1 for the whole burst", n)
	}
	if n := scaler.calls.Load(); n != 0 {
		t.Errorf("the Deployment was scaled %d times; the pool should have served", n)
	}
	if gotSpec.Code != fn.Spec.Code || gotSpec.Function != "default/hello" {
		t.Errorf("the pod was given %+v", gotSpec)
	}
	if n := testutil.ToFloat64(metrics.coldStarts.WithLabelValues("default/hello", "pool")); n != 20 {
		t.Errorf("pool cold starts = %v, want 20", n)
	}
	eventuallyTrue(t, func() bool {
		pods.mu.Lock()
		defer pods.mu.Unlock()
		p := pods.patched["default/pool-python-aaaaa"]
		if p == nil {
			return false
		}
		meta := p["metadata"].(map[string]any)
		labels := meta["labels"].(map[string]any)
		owner := meta["ownerReferences"].([]any)[0].(map[string]any)
		return labels[resources.FunctionLabel] == "hello" && labels[resources.PoolStateLabel] == resources.PoolSpecialized &&
			owner["kind"] == "Function" && owner["uid"] == "uid-1" && owner["controller"] == true
	})

	// Idle: the pool pod is deleted, never returned to the pool.
	f.mu.Lock()
	f.lastActivity = f.lastActivity.Add(-2 * f.info.Load().IdleTimeout)
	f.mu.Unlock()
	gw.scaleDownIfIdle(ctx, f) // the stub's /_/stats is not JSON: no decision
	pods.mu.Lock()
	deleted := len(pods.deleted)
	pods.mu.Unlock()
	if deleted != 0 {
		t.Errorf("deleted a pod whose calls could not be read")
	}
}

func TestFunctionsNeedingTheirOwnResourcesSkipThePool(t *testing.T) {
	fn := testFunction("big")
	if poolSpecOf(fn) == nil {
		t.Fatal("a plain function can be served from the pool")
	}
	fn.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: *resourceQuantity("1Gi")}
	if poolSpecOf(fn) != nil {
		t.Error("a function with its own resources must take the Deployment path")
	}
	fn = testFunction("secret-env")
	fn.Spec.Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{}}}
	if poolSpecOf(fn) != nil {
		t.Error("a function with env from Secrets must take the Deployment path")
	}
}

func TestCodeChangeRetiresPoolPodsWithOldCode(t *testing.T) {
	_, port := runnerStub(t)
	pods := &recordingPods{patched: map[string]map[string]any{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	metrics := NewMetrics()
	gw := New(ctx, testConfig(port), &fakeScaler{replicas: map[types.NamespacedName]int32{}}, pods, metrics, discardLog())
	h := routes(gw, metrics)
	fn := testFunction("hello")
	gw.OnFunction(fn)
	old := infoOf(fn, nil).CodeHash

	// A pool pod specialized with the current code, as the informer shows it.
	pod := poolPodObject("pool-python-old", "127.0.0.1")
	pod.Labels[resources.PoolStateLabel] = resources.PoolSpecialized
	pod.Labels[resources.FunctionLabel] = "hello"
	pod.Annotations = map[string]string{resources.CodeHashAnnotation: old}
	gw.OnPoolPod(pod, false)
	if rec := do(h, "GET", "/invoke/hello", "", nil); rec.Code != 200 {
		t.Fatalf("call to the specialized pod: %d", rec.Code)
	}

	// New code: the pod is no longer called, and is deleted.
	fn.Spec.Code = "def handle(req):\n    return 'v2'\n"
	fn.Generation++ // as the API server does on a spec change
	gw.OnFunction(fn)
	f := gw.lookup(types.NamespacedName{Namespace: "default", Name: "hello"})
	f.mu.Lock()
	n := len(f.pods)
	f.mu.Unlock()
	if n != 0 {
		t.Errorf("%d pods still called after the code changed", n)
	}
	gw.OnPoolPod(pod, false) // a later informer event must not bring it back
	f.mu.Lock()
	n = len(f.pods)
	f.mu.Unlock()
	if n != 0 {
		t.Errorf("the old pod came back into rotation")
	}
	eventuallyTrue(t, func() bool {
		pods.mu.Lock()
		defer pods.mu.Unlock()
		return len(pods.deleted) >= 1 && pods.deleted[0] == "default/pool-python-old"
	})
}

func TestInfoReusesCodeDerivedPartsWhileTheSpecIsUnchanged(t *testing.T) {
	fn := testFunction("hello")
	fn.UID, fn.Generation = "uid-1", 1
	first := infoOf(fn, nil)

	// A status-only update: same generation, the encoded code is reused.
	fn.Status.ReadyReplicas = 1
	again := infoOf(fn, first)
	if again.spec != first.spec || again.CodeHash != first.CodeHash {
		t.Error("a status update re-encoded the code")
	}

	// A spec change bumps the generation: everything is derived anew.
	fn.Spec.Code = "def handle(req):\n    return 'v2'\n"
	fn.Generation = 2
	changed := infoOf(fn, again)
	if changed.CodeHash == first.CodeHash || changed.spec.Code != fn.Spec.Code {
		t.Error("a code change kept the old code")
	}

	// A Function recreated under the same name is not the same object.
	fn.UID, fn.Generation = "uid-2", 2
	if recreated := infoOf(fn, changed); recreated.spec == changed.spec {
		t.Error("a new Function reused the old one's specialization")
	}
}
