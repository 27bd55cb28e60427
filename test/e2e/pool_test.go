//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/kube"
	"github.com/minifaas/minifaas/internal/pooltoken"
	"github.com/minifaas/minifaas/internal/resources"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// createPool makes a RuntimePool and waits until all its pods are ready.
func createPool(t *testing.T, ns string, size int32) {
	t.Helper()
	pool := &faasv1.RuntimePool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "python"},
		Spec: faasv1.RuntimePoolSpec{Size: ptr.To(size)}}
	if err := k8s.Create(context.Background(), pool); err != nil {
		t.Fatalf("create RuntimePool: %v", err)
	}
	waitPoolReady(t, ns, size, 60*time.Second)
}

// waitPoolReady waits until the gateway can claim n ready idle pool pods.
func waitPoolReady(t *testing.T, ns string, n int32, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d ready pool pods", n), func() error {
		var pool faasv1.RuntimePool
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "python"}, &pool); err != nil {
			return err
		}
		if pool.Status.ReadyPods != n {
			return fmt.Errorf("status %+v", pool.Status)
		}
		return nil
	})
}

func poolPods(t *testing.T, ns, state string) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.InNamespace(ns),
		client.MatchingLabels{resources.PoolStateLabel: state}); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func TestPoolServesTheFirstCallAndRefills(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "pool")
	createPool(t, ns, 2)
	idleBefore := poolPods(t, ns, resources.PoolIdle)
	createFunction(t, ns, "hello", helloCode, func(f *faasv1.Function) { f.Spec.IdleTimeoutSeconds = 4 })

	start := time.Now()
	if got := httpGet(t, gw+"/invoke/hello."+ns); got != "hello from runner" {
		t.Fatalf("first call answered %q", got)
	}
	t.Logf("first call at zero with a warm pool answered in %s", time.Since(start).Round(100*time.Microsecond))

	var served corev1.Pod
	eventually(t, 10*time.Second, "the specialized pod is the function's", func() error {
		pods := functionPods(t, ns, "hello")
		if len(pods) != 1 {
			return fmt.Errorf("%d pods of hello", len(pods))
		}
		served = pods[0]
		if ref := metav1.GetControllerOf(&served); ref == nil || ref.Kind != "Function" || ref.Name != "hello" {
			return fmt.Errorf("owner %+v", ref)
		}
		return nil
	})
	wasInPool := false
	for _, p := range idleBefore {
		wasInPool = wasInPool || p.Name == served.Name
	}
	if !wasInPool || served.Labels[resources.PoolStateLabel] != resources.PoolSpecialized {
		t.Errorf("hello was served by %s (labels %v), not by a pod from the pool", served.Name, served.Labels)
	}
	if r := ptr.Deref(getFunction(t, ns, "hello").Spec.Replicas, 0); r != 0 {
		t.Errorf("the Deployment path was used too: replicas %d", r)
	}
	if cond := waitReady(t, ns, "hello", faasv1.ReasonAvailable, 10*time.Second); cond.Message != "1 of 1 pods ready" {
		t.Errorf("the Function's status does not count its pool pod: %q", cond.Message)
	}
	eventually(t, 30*time.Second, "pool refilled", func() error {
		ready := 0
		for _, p := range poolPods(t, ns, resources.PoolIdle) {
			if p.Name != served.Name && kube.PodReady(&p) {
				ready++
			}
		}
		if ready != 2 {
			return fmt.Errorf("%d ready idle pods", ready)
		}
		return nil
	})
	t.Logf("pool back to 2 ready pods %s after the first call", time.Since(start).Round(10*time.Millisecond))

	// Idle: the specialized pod is deleted, not returned to the pool.
	eventually(t, 30*time.Second, "specialized pod deleted when idle", func() error {
		var p corev1.Pod
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(&served), &p)
		if err == nil && p.DeletionTimestamp == nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
	if got := httpGet(t, gw+"/invoke/hello."+ns); got != "hello from runner" {
		t.Errorf("after idling, the next call answered %q", got)
	}

	// New code: pool pods running the old code stop serving and are deleted;
	// calls get the new code.
	var old []corev1.Pod
	eventually(t, 10*time.Second, "hello's pool pod", func() error {
		if old = functionPods(t, ns, "hello"); len(old) != 1 {
			return fmt.Errorf("%d pods", len(old))
		}
		return nil
	})
	kubectl(t, "patch", "fn", "hello", "-n", ns, "--type=merge", "-p",
		`{"spec":{"code":"def handle(req):\n    return 'hello v2'\n"}}`)
	waitAnswer(t, gw+"/invoke/hello."+ns, "hello v2", 10*time.Second)
	eventually(t, 30*time.Second, "the pod with the old code deleted", func() error {
		var p corev1.Pod
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(&old[0]), &p); err == nil && p.DeletionTimestamp == nil {
			return fmt.Errorf("%s still runs", p.Name)
		}
		return nil
	})
	// A Deployment pod the autoscaler may have started meanwhile rolls to the
	// new code too; once every pod runs it, no call gets the old code.
	eventually(t, 60*time.Second, "every pod of hello runs the new code", func() error {
		want := getFunction(t, ns, "hello").Status.CodeHash
		for _, p := range functionPods(t, ns, "hello") {
			if p.DeletionTimestamp == nil && p.Annotations[resources.CodeHashAnnotation] != want {
				return fmt.Errorf("%s runs code %s, want %s", p.Name, p.Annotations[resources.CodeHashAnnotation], want)
			}
		}
		return nil
	})
	for range 20 {
		if got := httpGet(t, gw+"/invoke/hello."+ns); got != "hello v2" {
			t.Fatalf("after the code change a call answered %q", got)
		}
	}
}

func TestPoolPodsAreNeverSharedAndCannotBeRespecialized(t *testing.T) {
	ensurePlatform(t)
	// One gateway replica: the attacker's second call must find the pod its
	// first call got, not race another replica that has not seen it yet.
	gw := "http://" + net.JoinHostPort(readyPodIP(t, "faas-system", gatewayLabels), "8000")
	ns := newNamespace(t, "pooliso")
	createPool(t, ns, 3)
	createFunction(t, ns, "one", "def handle(req):\n    return 'one'\n")
	createFunction(t, ns, "two", "def handle(req):\n    return 'two'\n")
	// The function's code tries what an attacker would: find a token in its
	// environment and specialize another pod with it.
	createFunction(t, ns, "attacker", `import os, urllib.request, urllib.error
def handle(req):
    creds = [v for k, v in os.environ.items() if "TOKEN" in k or "SPECIALIZE" in k]
    r = urllib.request.Request("http://" + req.query["target"] + ":8081/_/specialize", method="POST",
        data=b'{"code": "def handle(req):\\n    return 1\\n"}',
        headers={"Authorization": "Bearer " + (creds[0] if creds else "guess")})
    try:
        return str(urllib.request.urlopen(r, timeout=5).status)
    except urllib.error.HTTPError as e:
        return str(e.code)
`)

	var wg sync.WaitGroup
	answers := map[string]string{}
	var mu sync.Mutex
	for _, name := range []string{"one", "two"} {
		wg.Go(func() {
			got, err := get(gw + "/invoke/" + name + "." + ns)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				answers[name] = err.Error()
			} else {
				answers[name] = got
			}
		})
	}
	wg.Wait()
	if answers["one"] != "one" || answers["two"] != "two" {
		t.Fatalf("two functions cold at once answered %v", answers)
	}
	var one, two []corev1.Pod
	eventually(t, 10*time.Second, "each function has its own pod", func() error {
		one, two = functionPods(t, ns, "one"), functionPods(t, ns, "two")
		if len(one) != 1 || len(two) != 1 || one[0].Name == two[0].Name {
			return fmt.Errorf("pods: one %d, two %d", len(one), len(two))
		}
		return nil
	})

	// A specialized pod refuses a second specialization, even with its token.
	var secret corev1.Secret
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: "faas-system", Name: pooltoken.SecretName}, &secret); err != nil {
		t.Fatal(err)
	}
	token := pooltoken.Token(secret.Data[pooltoken.SecretKey], ns, one[0].Name)
	code := postSpecialize(t, one[0].Status.PodIP, token)
	if code != http.StatusConflict {
		t.Errorf("a second specialization got %d, want 409", code)
	}

	// Function code cannot specialize another pod. The attacker is warmed
	// first (against itself), so the target stays in the pool.
	if got := httpGet(t, gw+"/invoke/attacker."+ns+"?target=127.0.0.1"); got != "403" {
		t.Errorf("specializing its own pod got %s, want 403", got)
	}
	// The target must be another pod than the attacker's own, which stays
	// labelled idle until the gateway has handed it over.
	var own []corev1.Pod
	eventually(t, 10*time.Second, "the attacker's pod handed over", func() error {
		if own = functionPods(t, ns, "attacker"); len(own) != 1 {
			return fmt.Errorf("%d pods", len(own))
		}
		return nil
	})
	var target corev1.Pod
	eventually(t, 30*time.Second, "a ready idle pool pod", func() error {
		for _, p := range poolPods(t, ns, resources.PoolIdle) {
			if kube.PodReady(&p) && p.Status.PodIP != "" && p.Name != own[0].Name {
				target = p
				return nil
			}
		}
		return fmt.Errorf("none yet")
	})
	// The NetworkPolicy refuses the connection to another runner pod
	// (URLError); without one, the pod itself refuses the token (403).
	code, got, err := call("GET", gw+"/invoke/attacker."+ns+"?target="+target.Status.PodIP, "")
	if err != nil || !(code == 200 && got == "403") && !(code == 500 && strings.Contains(got, "URLError")) {
		t.Errorf("the attacker's specialization got %d %s %v, want 403 or a refused connection", code, got, err)
	}
	if got := httpGet(t, gw+"/invoke/one."+ns); got != "one" {
		t.Errorf("one answers %q after the attempts", got)
	}
	var after corev1.Pod
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(&target), &after); err != nil || after.Labels[resources.PoolStateLabel] != resources.PoolIdle {
		t.Errorf("the attacked pool pod is no longer idle: %v %v", err, after.Labels)
	}
	if code := postSpecialize(t, target.Status.PodIP, "guess"); code != http.StatusForbidden {
		t.Errorf("a wrong token got %d, want 403", code)
	}
}

func postSpecialize(t *testing.T, ip, token string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+net.JoinHostPort(ip, "8081")+runnerapi.SpecializePath,
		bytes.NewReader([]byte(`{"code": "def handle(req):\n    return 'evil'\n"}`)))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestPoolBurstSpecializesOnePodAndEmptyPoolFallsBack(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "poolburst")
	createPool(t, ns, 2)
	createFunction(t, ns, "burst", helloCode)
	waitGatewaysSeePool(t, ns, 2)
	codes := burst(t, gw+"/invoke/burst."+ns, 1000)
	if codes[200] != 1000 {
		t.Errorf("status counts = %v, want 1000 × 200", codes)
	}
	// Beyond one pod's concurrency the burst takes more pool pods, up to
	// what the pool holds (2) and maxReplicas (3): never more pods than that.
	if n := len(functionPods(t, ns, "burst")); n < 1 || n > 3 {
		t.Errorf("the burst used %d pods, want 1 to maxReplicas 3", n)
	}
	if n := len(poolPods(t, ns, resources.PoolSpecialized)); n < 1 || n > 2 {
		t.Errorf("%d specialized pool pods, want 1 or 2 (the pool's size)", n)
	}

	// An empty pool: the Deployment path answers.
	var pool faasv1.RuntimePool
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "python"}, &pool); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(pool.DeepCopy())
	pool.Spec.Size = ptr.To[int32](0)
	if err := k8s.Patch(context.Background(), &pool, patch); err != nil {
		t.Fatal(err)
	}
	waitPoolReady(t, ns, 0, 30*time.Second)
	eventually(t, 30*time.Second, "no idle pool pod left", func() error {
		if n := len(poolPods(t, ns, resources.PoolIdle)); n > 0 {
			return fmt.Errorf("%d", n)
		}
		return nil
	})
	createFunction(t, ns, "fallback", helloCode)
	if got := httpGet(t, gw+"/invoke/fallback."+ns); got != "hello from runner" {
		t.Fatalf("fallback answered %q", got)
	}
	pods := functionPods(t, ns, "fallback")
	if len(pods) != 1 || !strings.HasPrefix(pods[0].Name, "fn-fallback-deploy-") {
		t.Errorf("fallback was served by %v, want its Deployment's pod", pods)
	}

	// Deleting the function deletes its specialized pod.
	kubectl(t, "delete", "fn", "burst", "-n", ns)
	eventually(t, 60*time.Second, "specialized pod gone", func() error {
		if n := len(functionPods(t, ns, "burst")); n > 0 {
			return fmt.Errorf("%d pods left", n)
		}
		return nil
	})
}
