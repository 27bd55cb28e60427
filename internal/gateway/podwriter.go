package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/minifaas/minifaas/internal/pooltoken"
)

// podWriter patches and deletes pool pods with the API server.
type podWriter struct {
	c client.Client
}

var _ PodWriter = podWriter{}

func (w podWriter) Patch(ctx context.Context, namespace, name string, mergePatch []byte) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := w.c.Patch(ctx, pod, client.RawPatch(types.MergePatchType, mergePatch)); err != nil {
		return fmt.Errorf("patch pod %s/%s: %w", namespace, name, err)
	}
	return nil
}

func (w podWriter) Delete(ctx context.Context, namespace, name string) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := client.IgnoreNotFound(w.c.Delete(ctx, pod)); err != nil {
		return fmt.Errorf("delete pod %s/%s: %w", namespace, name, err)
	}
	return nil
}

// loadPoolKey reads the pool key Secret, which the operator creates with
// the first RuntimePool, and enables the pool path; until then it retries.
func loadPoolKey(ctx context.Context, c client.Client, namespace string, gw *Gateway) {
	logger := log.FromContext(ctx)
	for {
		var secret corev1.Secret
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: pooltoken.SecretName}, &secret)
		if err == nil && len(secret.Data[pooltoken.SecretKey]) > 0 {
			gw.SetPoolKey(secret.Data[pooltoken.SecretKey])
			logger.Info("Pool path enabled", "secret", namespace+"/"+pooltoken.SecretName)
			return
		}
		if err == nil {
			err = errors.New("the secret has no key")
		}
		logger.V(1).Info("Pool key not readable yet; calls take the Deployment path", "error", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}
