package cli

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

func runningPod(name, function string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name),
			Labels: map[string]string{resources.FunctionLabel: function}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "runner", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}},
	}
}

// TestLogs prints each serving pod's log prefixed with the pod's name;
// the fake clientset answers every log with "fake logs".
func TestLogs(t *testing.T) {
	fn := readyFunction("default", "hello", code1, faasv1.ReasonAvailable, "")
	a, b, other := runningPod("fn-hello-a", "hello"), runningPod("pool-b", "hello"), runningPod("fn-other", "other")
	h := newHarness(t, withObjects(fn, a, b, other), withClientset(a, b, other))
	out := h.mustRun("logs", "hello", "--tail", "10", "--since", "5m")
	if out != "[fn-hello-a] fake logs\n[pool-b] fake logs\n" {
		t.Errorf("stdout = %q", out)
	}
	if code := h.run("logs", "nope"); code != ExitNotFound {
		t.Errorf("logs of a missing function: exit %d", code)
	}
	h = newHarness(t, withObjects(fn))
	if out := h.mustRun("logs", "hello"); out != "" || !strings.Contains(h.err.String(), "has no pods now") {
		t.Errorf("no pods: stdout %q stderr %q", out, h.err)
	}
}
