package gateway

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/minifaas/minifaas/internal/gateway/pool"
)

// podWriter patches and deletes pool pods with the API server.
type podWriter struct {
	c client.Client
}

var _ pool.PodWriter = podWriter{}

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
