package resources

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// MakeDeployment builds the Function's Deployment of runner pods with the
// given number of replicas. The code hash on the pod template rolls the pods
// when the code changes; the rollout never takes a serving pod away before
// its replacement is ready.
func MakeDeployment(fn *faasv1.Function, image string, replicas int32) *appsv1.Deployment {
	podLabels := Labels(fn)
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      DeploymentName(fn),
			Namespace: fn.Namespace,
			Labels:    Labels(fn),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr.To(replicas),
			Selector:             &metav1.LabelSelector{MatchLabels: SelectorLabels(fn)},
			RevisionHistoryLimit: ptr.To(int32(2)),
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       ptr.To(intstr.FromInt32(1)),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      podLabels,
					Annotations: map[string]string{CodeHashAnnotation: CodeHash(fn)},
				},
				Spec: MakePodSpec(fn, image),
			},
		},
	}
}
