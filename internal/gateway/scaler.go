package gateway

import (
	"context"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/autoscaler"
	"github.com/minifaas/minifaas/internal/gateway/coldstart"
)

// scaleSubresource scales Functions through their scale subresource, as
// `kubectl scale` and autoscalers do; the operator does the rest.
type scaleSubresource struct {
	c client.Client
}

var (
	_ coldstart.Scaler  = scaleSubresource{}
	_ autoscaler.Scaler = scaleSubresource{}
)

func (s scaleSubresource) ScaleIf(ctx context.Context, key types.NamespacedName, want int32, cond func(int32) bool) (int32, bool, error) {
	fn := &faasv1.Function{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	scale := &autoscalingv1.Scale{}
	if err := s.c.SubResource("scale").Get(ctx, fn, scale); err != nil {
		return 0, false, fmt.Errorf("get scale of function %s: %w", key, err)
	}
	from := scale.Spec.Replicas
	if !cond(from) {
		return from, false, nil
	}
	// The resourceVersion read above makes the update fail if anyone else
	// scaled the Function in between.
	scale.Spec.Replicas = want
	if err := s.c.SubResource("scale").Update(ctx, fn, client.WithSubResourceBody(scale)); err != nil {
		return from, false, fmt.Errorf("scale function %s from %d to %d: %w", key, from, want, err)
	}
	return from, true, nil
}
