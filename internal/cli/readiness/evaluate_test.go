package readiness

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

func fnWith(gen, observed int64, reason, msg string) *faasv1.Function {
	fn := &faasv1.Function{ObjectMeta: metav1.ObjectMeta{Name: "f", Generation: gen}}
	fn.Status.ObservedGeneration = observed
	fn.Status.CodeHash = "new"
	if reason != "" {
		fn.Status.Conditions = []metav1.Condition{{Type: faasv1.ConditionReady, Reason: reason, Message: msg, ObservedGeneration: observed}}
	}
	return fn
}

func pod(name, hash string, ready bool, mut ...func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{resources.CodeHashAnnotation: hash}}}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	for _, m := range mut {
		m(&p)
	}
	return p
}

func rolled(replicas, updated, total int32) *appsv1.Deployment {
	return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
		Status: appsv1.DeploymentStatus{UpdatedReplicas: updated, Replicas: total}}
}

func TestEvaluate(t *testing.T) {
	all := Objects{Deployment: rolled(0, 0, 0), Service: true, ConfigMap: true}
	for _, tc := range []struct {
		name   string
		fn     *faasv1.Function
		objs   Objects
		state  State
		reason string
		msg    string
	}{
		{"operator has not acted", fnWith(2, 1, faasv1.ReasonAvailable, ""), all, Waiting, Pending,
			"waiting for the operator to act on generation 2"},
		{"no condition yet", fnWith(1, 1, "", ""), all, Waiting, Pending, "waiting for the operator to act on generation 1"},
		{"scaled to zero with its objects", fnWith(1, 1, faasv1.ReasonScaledToZero, "x"), all, Ready, faasv1.ReasonScaledToZero,
			"scaled to zero; the first call starts a pod"},
		{"scaled to zero without a Service", fnWith(1, 1, faasv1.ReasonScaledToZero, "x"), Objects{Deployment: rolled(0, 0, 0), ConfigMap: true},
			Waiting, faasv1.ReasonScaledToZero, "waiting for Service fn-f"},
		{"load failed", fnWith(1, 1, faasv1.ReasonLoadFailed, "boom"), all, Failed, faasv1.ReasonLoadFailed, "boom"},
		{"reconcile failed", fnWith(1, 1, faasv1.ReasonReconcileFailed, "no"), all, Failed, faasv1.ReasonReconcileFailed, "no"},
		{"available with the new code", fnWith(1, 1, faasv1.ReasonAvailable, "1 of 1 pods ready"),
			Objects{Deployment: rolled(1, 1, 1), Pods: []corev1.Pod{pod("a", "new", true)}}, Ready, faasv1.ReasonAvailable, "1 of 1 pods ready"},
		{"available on the old code only", fnWith(2, 2, faasv1.ReasonAvailable, "1 of 1 pods ready"),
			Objects{Deployment: rolled(1, 1, 2), Pods: []corev1.Pod{pod("a", "old", true), pod("b", "new", false, func(p *corev1.Pod) {
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "runner",
					State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 10s"}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Message: "SyntaxError\n"}}}}
			})}},
			Waiting, "RollingOut", "the old code still serves; 0 of 1 pods with the new code ready; pod b: CrashLoopBackOff, last exited with code 3 (SyntaxError)"},
		{"available from a pool pod", fnWith(1, 1, faasv1.ReasonAvailable, "1 of 1"),
			Objects{Deployment: rolled(0, 0, 0), Pods: []corev1.Pod{pod("p", "", true, func(p *corev1.Pod) {
				p.Labels = map[string]string{resources.PoolStateLabel: resources.PoolSpecialized}
			})}}, Ready, faasv1.ReasonAvailable, "1 of 1"},
		{"starting, pod pending", fnWith(1, 1, faasv1.ReasonStarting, "waiting for 1 pod(s) to become ready"),
			Objects{Pods: []corev1.Pod{pod("a", "new", false, func(p *corev1.Pod) {
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "runner",
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "not found"}}}}
			})}}, Waiting, faasv1.ReasonStarting, "waiting for 1 pod(s) to become ready; pod a: ImagePullBackOff (not found)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(tc.fn, tc.objs)
			want := Status{State: tc.state, Reason: tc.reason, Message: tc.msg}
			if got != want {
				t.Errorf("Evaluate = %+v\nwant       %+v", got, want)
			}
		})
	}
}
