package pool

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// PodWriter changes pool pods in the API.
type PodWriter interface {
	Patch(ctx context.Context, namespace, name string, mergePatch []byte) error
	Delete(ctx context.Context, namespace, name string) error
}

// Owner is the Function a claimed pod is handed to.
type Owner struct {
	Function types.NamespacedName
	UID      types.UID
	// CodeHash is resources.CodeHash of the Function (the operator matches
	// load failures by it); SpecHash is the specialization's.
	CodeHash, SpecHash string
}

// AdoptPatch is the merge patch that hands a specialized pool pod to its
// function: labelled as its pod (its Service selects it from then on),
// annotated with what it runs, and owned by the Function, so deleting the
// Function deletes it. Nothing else of the pod changes.
func AdoptPatch(o Owner) ([]byte, error) {
	patch := map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{
			resources.CodeHashAnnotation: o.CodeHash,
			resources.SpecHashAnnotation: o.SpecHash,
		},
		"labels": map[string]string{
			resources.PoolStateLabel: resources.PoolSpecialized,
			resources.FunctionLabel:  o.Function.Name,
			resources.ComponentLabel: "function",
		},
		"ownerReferences": []map[string]any{{
			"apiVersion": faasv1.GroupVersion.String(), "kind": "Function",
			"name": o.Function.Name, "uid": o.UID, "controller": true,
		}},
	}}
	b, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("encode adopt patch: %w", err)
	}
	return b, nil
}

// Adopter hands claimed pods to their functions.
type Adopter struct {
	Pods PodWriter
	// Attempts and Backoff bound the retries of one hand-over; Timeout
	// bounds each API call.
	Attempts int
	Backoff  time.Duration
	Timeout  time.Duration
}

// Adopt patches p until the API takes it. When it never does, the pod is
// deleted: a pod that serves code but is still labelled idle must not stay.
func (a Adopter) Adopt(ctx context.Context, p Pod, o Owner) error {
	body, err := AdoptPatch(o)
	if err != nil {
		return err
	}
	var last error
	for attempt := 0; attempt < a.Attempts; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, a.Timeout)
		last = a.Pods.Patch(callCtx, p.Namespace, p.Name, body)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hand pod %s/%s to %s: %w", p.Namespace, p.Name, o.Function, ctx.Err())
		case <-time.After(time.Duration(attempt+1) * a.Backoff):
		}
	}
	delCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.Timeout)
	defer cancel()
	if err := a.Pods.Delete(delCtx, p.Namespace, p.Name); err != nil {
		return fmt.Errorf("hand pod %s/%s to %s: %w; then delete it: %w", p.Namespace, p.Name, o.Function, last, err)
	}
	return fmt.Errorf("hand pod %s/%s to %s, deleted it: %w", p.Namespace, p.Name, o.Function, last)
}
