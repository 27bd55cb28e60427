//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/kube"
)

var platformOnce sync.Once

// ensurePlatform deploys the operator and the gateway in the cluster from
// config/ (as the README does) and returns the gateway's in-cluster URL.
func ensurePlatform(t *testing.T) string {
	t.Helper()
	platformOnce.Do(func() {
		kubectl(t, "apply", "--server-side", "--force-conflicts", "-k", filepath.Join(repoRoot, "config", "operator"))
		kubectl(t, "apply", "--server-side", "--force-conflicts", "-k", filepath.Join(repoRoot, "config", "gateway"))
	})
	kubectl(t, "scale", "deployment/faas-operator", "-n", "faas-system", "--replicas=1")
	kubectl(t, "rollout", "status", "deployment/faas-operator", "-n", "faas-system", "--timeout=90s")
	kubectl(t, "rollout", "status", "deployment/faas-gateway", "-n", "faas-system", "--timeout=90s")
	var svc corev1.Service
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: "faas-system", Name: "faas-gateway"}, &svc); err != nil {
		t.Fatalf("get gateway Service: %v", err)
	}
	url := "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "8000")
	eventually(t, 30*time.Second, "gateway answers", func() error {
		// The public port serves calls only: an unknown function is 404.
		code, _, err := call("GET", url+"/invoke/no-such-function", "")
		if err == nil && code != 404 {
			err = fmt.Errorf("answered %d", code)
		}
		return err
	})
	return url
}

// withoutInClusterOperator stops the in-cluster operator, if deployed, for
// a test that runs its own operator out of cluster, and restores it after.
func withoutInClusterOperator(t *testing.T) {
	t.Helper()
	if _, err := kubectlRun("get", "deployment/faas-operator", "-n", "faas-system"); err != nil {
		return
	}
	kubectl(t, "scale", "deployment/faas-operator", "-n", "faas-system", "--replicas=0")
	eventually(t, 60*time.Second, "in-cluster operator stopped", func() error {
		out, _ := kubectlRun("get", "pods", "-n", "faas-system", "-l", "app.kubernetes.io/name=faas-operator", "-o", "name")
		if out != "" {
			return fmt.Errorf("still running: %s", out)
		}
		return nil
	})
	t.Cleanup(func() { _, _ = kubectlRun("scale", "deployment/faas-operator", "-n", "faas-system", "--replicas=1") })
}

// startGateway runs a gateway out of cluster with extra flags, limited to
// namespace ns, and returns its URL; it is stopped when the test ends.
func startGateway(t *testing.T, ns string, flags ...string) string {
	t.Helper()
	port, admin := freePort(t), freePort(t)
	args := append([]string{"--namespace", ns, "--default-namespace", ns, "--listen", "127.0.0.1:" + strconv.Itoa(port),
		"--admin-listen", "127.0.0.1:" + strconv.Itoa(admin), "--peer-service", "none"}, flags...)
	startProcess(t, "gateway", gatewayBin, args...)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	eventually(t, 30*time.Second, "gateway up", func() error {
		_, err := get("http://127.0.0.1:" + strconv.Itoa(admin) + "/readyz")
		return err
	})
	return url
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// gatewayLabels select the gateway's pods.
var gatewayLabels = map[string]string{"app.kubernetes.io/name": "faas-gateway"}

// readyPodIP waits for a ready pod with labels in ns and returns its IP.
func readyPodIP(t *testing.T, ns string, labels map[string]string) string {
	t.Helper()
	return readyPod(t, ns, labels).Status.PodIP
}

// readyPod waits for a ready pod with labels in ns.
func readyPod(t *testing.T, ns string, labels map[string]string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	eventually(t, 60*time.Second, "a ready pod", func() error {
		var pods corev1.PodList
		if err := k8s.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
			return err
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Status.PodIP != "" && p.DeletionTimestamp == nil && kube.PodReady(p) {
				pod = p
				return nil
			}
		}
		return fmt.Errorf("none yet")
	})
	return pod
}

// gatewayIdlePoolPods returns how many claimable pool pods of ns the
// gateway pod at ip sees, from its faas_gateway_pool_idle_pods metric.
func gatewayIdlePoolPods(ip, ns string, runtime ...faasv1.Runtime) (int, error) {
	body, err := get("http://" + net.JoinHostPort(ip, "9090") + "/metrics")
	if err != nil {
		return 0, err
	}
	rt := faasv1.RuntimePython
	if len(runtime) > 0 {
		rt = runtime[0]
	}
	prefix := fmt.Sprintf(`faas_gateway_pool_idle_pods{namespace=%q,runtime=%q} `, ns, rt)
	for _, line := range strings.Split(body, "\n") {
		if n, ok := strings.CutPrefix(line, prefix); ok {
			return strconv.Atoi(n)
		}
	}
	return 0, nil
}

// waitGatewaysSeePool waits until every gateway replica sees n claimable
// pool pods in ns: replicas choose the same pod for a function only when
// their views agree.
func waitGatewaysSeePool(t *testing.T, ns string, n int) {
	t.Helper()
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.InNamespace("faas-system"), client.MatchingLabels(gatewayLabels)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || !kube.PodReady(&p) {
			continue
		}
		eventually(t, 30*time.Second, "gateway "+p.Name+" sees the pool", func() error {
			got, err := gatewayIdlePoolPods(p.Status.PodIP, ns)
			if err != nil {
				return err
			}
			if got != n {
				return fmt.Errorf("sees %d claimable pool pods, want %d", got, n)
			}
			return nil
		})
	}
}
