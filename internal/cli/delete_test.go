package cli

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// TestDeleteWaitsForEverythingToGo: the fake client has no garbage
// collector, so the test deletes the children when the Function goes,
// and the pod a few looks later, as the cluster would.
func TestDeleteWaitsForEverythingToGo(t *testing.T) {
	fn := readyFunction("default", "hello", code1, faasv1.ReasonAvailable, "")
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: "default", Name: name} }
	pod := &corev1.Pod{ObjectMeta: meta("fn-hello-deploy-1")}
	pod.Labels = map[string]string{resources.FunctionLabel: "hello"}
	children := []client.Object{
		&appsv1.Deployment{ObjectMeta: meta("fn-hello-deploy")},
		&corev1.Service{ObjectMeta: meta("fn-hello")},
		&corev1.ConfigMap{ObjectMeta: meta("fn-hello-code")},
	}
	podLists := 0
	var h *harness
	h = newHarness(t, withObjects(append(children, fn, pod)...), withInterceptor(interceptor.Funcs{
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if err := c.Delete(ctx, obj, opts...); err != nil {
				return err
			}
			if _, ok := obj.(*faasv1.Function); ok {
				for _, child := range children {
					_ = c.Delete(ctx, child)
				}
			}
			return nil
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*corev1.PodList); ok {
				if podLists++; podLists == 3 {
					_ = c.Delete(ctx, pod)
				}
			}
			return c.List(ctx, list, opts...)
		},
	}))
	out := h.mustRun("delete", "hello")
	if !strings.Contains(out, "function hello in default: deleted") || !strings.Contains(out, "gone, with its objects and pods") {
		t.Errorf("stdout:\n%s", out)
	}
	if !strings.Contains(h.err.String(), "waiting for pod fn-hello-deploy-1 to go") {
		t.Errorf("stderr:\n%s", h.err)
	}
	if code := h.run("delete", "hello"); code != ExitNotFound {
		t.Errorf("deleting it again: exit %d, want %d", code, ExitNotFound)
	}
	h.mustRun("delete", "hello", "--ignore-not-found")
}

func TestDeleteTimesOut(t *testing.T) {
	fn := readyFunction("default", "hello", code1, faasv1.ReasonAvailable, "")
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "fn-hello"}}
	h := newHarness(t, withObjects(fn, svc))
	if code := h.run("delete", "hello", "--wait-timeout", "20ms"); code != ExitTimeout {
		t.Fatalf("exit %d, want %d\n%s", code, ExitTimeout, h.err)
	}
	if !strings.Contains(h.err.String(), "still there after 20ms: Service fn-hello") {
		t.Errorf("stderr:\n%s", h.err)
	}
}
