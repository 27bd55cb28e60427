package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// poolCallTimeoutSeconds sizes a pool pod's grace period; the function it
// will serve is not known yet, so this is the API's largest timeout.
const poolCallTimeoutSeconds = 900

// PoolPodLabels are the labels of an idle pod of pool.
func PoolPodLabels(pool *faasv1.RuntimePool) map[string]string {
	return map[string]string{
		PoolLabel:      pool.Name,
		PoolStateLabel: PoolIdle,
		RuntimeLabel:   string(pool.Spec.Runtime),
		ComponentLabel: "pool",
		ManagedByLabel: ManagedBy,
	}
}

// MakePoolPod builds an idle pool pod named name: the runner in pool mode,
// with no code, that accepts one specialization with the token whose
// SHA-256 is tokenHash. It never restarts: a runner that stops after being
// given a function must not come back as an empty pool pod.
func MakePoolPod(pool *faasv1.RuntimePool, name, image, tokenHash string) *corev1.Pod {
	env := []corev1.EnvVar{
		{Name: runnerapi.EnvMode, Value: runnerapi.ModePool},
		{Name: runnerapi.EnvSpecializeTokenSHA256, Value: tokenHash},
	}
	spec := runnerPodSpec(image, env, pool.Spec.Resources, poolCallTimeoutSeconds)
	spec.RestartPolicy = corev1.RestartPolicyNever
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: pool.Namespace,
			Labels:    PoolPodLabels(pool),
		},
		Spec: spec,
	}
}
