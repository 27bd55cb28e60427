package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// MakeConfigMap builds the ConfigMap that carries the Function's code into
// its pods.
func MakeConfigMap(fn *faasv1.Function) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        ConfigMapName(fn),
			Namespace:   fn.Namespace,
			Labels:      Labels(fn),
			Annotations: map[string]string{CodeHashAnnotation: CodeHash(fn)},
		},
		Data: map[string]string{CodeFileOf(fn.Spec.Runtime): fn.Spec.Code},
	}
}
