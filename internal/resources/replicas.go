package resources

import (
	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// DesiredReplicas is the number of pods the Function should have: its
// spec.replicas (set through the scale subresource) kept within
// [minReplicas, maxReplicas], or minReplicas when unset; none while its
// package was never built, since there is nothing to run.
func DesiredReplicas(fn *faasv1.Function) int32 {
	if !PackageBuilt(fn) {
		return 0
	}
	want := fn.Spec.MinReplicas
	if fn.Spec.Replicas != nil {
		want = *fn.Spec.Replicas
	}
	return max(fn.Spec.MinReplicas, min(want, max(fn.Spec.MaxReplicas, fn.Spec.MinReplicas)))
}
