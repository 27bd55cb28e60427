package kube

import corev1 "k8s.io/api/core/v1"

// PodReady tells whether the kubelet reports pod Ready.
func PodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
