//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestClusterRunsLocallyBuiltImage is the local cluster's smoke test: a
// Deployment of an image built from this repo becomes Ready and answers
// HTTP on its pod IP and through a Service (kube-proxy).
func TestClusterRunsLocallyBuiltImage(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "smoke")
	labels := map[string]string{"app": "smoke"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "smoke", Image: smokeImage, ImagePullPolicy: corev1.PullNever,
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
						PeriodSeconds: 1,
					},
				}}},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	start := time.Now()
	for _, obj := range []client.Object{dep, svc} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}
	kubectl(t, "rollout", "status", "deployment/smoke", "-n", ns, "--timeout=60s")
	t.Logf("Deployment ready %s after create", time.Since(start).Round(time.Millisecond))

	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil || len(pods.Items) != 1 {
		t.Fatalf("list pods: %v (%d pods)", err, len(pods.Items))
	}
	pod := pods.Items[0]
	want := "smoke ok from " + pod.Name
	if got := httpGet(t, fmt.Sprintf("http://%s:8080/", pod.Status.PodIP)); got != want {
		t.Errorf("pod IP answered %q, want %q", got, want)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(svc), svc); err != nil {
		t.Fatalf("get Service: %v", err)
	}
	// kube-proxy programs the Service a moment after its endpoints appear.
	eventually(t, 10*time.Second, "Service answers", func() error {
		got, err := get(fmt.Sprintf("http://%s/", svc.Spec.ClusterIP))
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("Service answered %q, want %q", got, want)
		}
		return nil
	})
}

// httpClient opens a new connection per request, so a retry never reuses a
// connection made before the route to a pod or Service existed.
var httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// get returns the body of a 200 answer to GET url.
func get(url string) (string, error) {
	code, body, err := call(http.MethodGet, url, "")
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d %s", url, code, body)
	}
	return body, nil
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	body, err := get(url)
	if err != nil {
		t.Fatal(err)
	}
	return body
}
