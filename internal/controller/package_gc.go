package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"oras.land/oras-go/v2/errdef"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/resources"
)

// Garbage collection of packages. Nothing in the registry is tagged: an
// artifact is referenced only by the status of the Function whose
// repository holds it. The operator deletes a manifest once its Function
// no longer references it (replaced, the Function deleted or back to
// inline code); the registry's `garbage-collect` then removes the blobs no
// remaining manifest references (docs/packages.md).

// ensureFinalizer adds PackagesFinalizer to fn.
func (r *FunctionReconciler) ensureFinalizer(ctx context.Context, fn *faasv1.Function) error {
	if controllerutil.ContainsFinalizer(fn, PackagesFinalizer) {
		return nil
	}
	return r.patchFinalizer(ctx, fn, controllerutil.AddFinalizer)
}

// patchFinalizer applies change (controllerutil.AddFinalizer or
// RemoveFinalizer) of PackagesFinalizer to fn, guarded by its
// resourceVersion.
func (r *FunctionReconciler) patchFinalizer(ctx context.Context, fn *faasv1.Function, change func(client.Object, string) bool) error {
	orig := fn.DeepCopy()
	change(fn, PackagesFinalizer)
	if err := r.Patch(ctx, fn, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("patch the finalizers of function %s: %w", fn.Name, err)
	}
	return nil
}

// finalizePackages deletes the artifacts and build Jobs of the deleted fn,
// then lets it go. An unreachable registry holds it for cleanupGiveUp at
// most.
func (r *FunctionReconciler) finalizePackages(ctx context.Context, fn *faasv1.Function) (time.Duration, error) {
	if !controllerutil.ContainsFinalizer(fn, PackagesFinalizer) {
		return 0, nil
	}
	// An operator running without packages lets such Functions go: it
	// cannot reach the registry, and must not hold them forever.
	var err error
	if r.Packages.enabled() {
		err = r.deleteAllArtifacts(ctx, fn)
		if err != nil && time.Since(fn.DeletionTimestamp.Time) < r.Packages.cleanupGiveUp() {
			return 0, err
		}
	}
	if err != nil {
		log.FromContext(ctx).Error(err, "Gave up deleting the package artifacts of a deleted function", "function", fn.Name)
	}
	return 0, client.IgnoreNotFound(r.patchFinalizer(ctx, fn, controllerutil.RemoveFinalizer))
}

// dropPackage deletes the artifacts of a Function back on inline code.
func (r *FunctionReconciler) dropPackage(ctx context.Context, fn *faasv1.Function) error {
	meta.RemoveStatusCondition(&fn.Status.Conditions, faasv1.ConditionPackageBuilt)
	if fn.Status.Package == nil && !controllerutil.ContainsFinalizer(fn, PackagesFinalizer) {
		return nil
	}
	if r.Packages.enabled() {
		if err := r.deleteAllArtifacts(ctx, fn); err != nil {
			return err
		}
	}
	fn.Status.Package = nil
	if !controllerutil.ContainsFinalizer(fn, PackagesFinalizer) {
		return nil
	}
	return r.patchFinalizer(ctx, fn, controllerutil.RemoveFinalizer)
}

// deleteAllArtifacts deletes every artifact fn's status and spec name, and
// its build Jobs.
func (r *FunctionReconciler) deleteAllArtifacts(ctx context.Context, fn *faasv1.Function) error {
	var ds []string
	if p := fn.Spec.Package; p != nil {
		ds = append(ds, p.Source)
	}
	if st := fn.Status.Package; st != nil {
		ds = append(ds, st.Source, st.Digest)
		ds = append(ds, st.Previous...)
	}
	var errs []error
	for _, d := range ds {
		if d != "" {
			errs = append(errs, r.deleteArtifact(ctx, fn, d))
		}
	}
	var jobs batchv1.JobList
	sel := client.MatchingLabels{resources.FunctionLabel: fn.Name, resources.BuildFunctionNamespaceLabel: fn.Namespace}
	if err := r.Packages.Registry.Reader.List(ctx, &jobs, client.InNamespace(r.Packages.Registry.Namespace), sel); err != nil {
		errs = append(errs, fmt.Errorf("list build Jobs of %s: %w", fn.Name, err))
	}
	for i := range jobs.Items {
		errs = append(errs, r.deleteJob(ctx, &jobs.Items[i]))
	}
	return errors.Join(errs...)
}

// collectPrevious deletes the artifacts fn replaced, but the last one.
// Failures are logged and retried at the next reconcile.
func (r *FunctionReconciler) collectPrevious(ctx context.Context, fn *faasv1.Function) {
	st := fn.Status.Package
	if len(st.Previous) <= 1 {
		return
	}
	keep := st.Previous[:0:0]
	for _, d := range st.Previous[:len(st.Previous)-1] {
		if err := r.deleteArtifact(ctx, fn, d); err != nil {
			log.FromContext(ctx).Error(err, "Failed to delete a replaced package artifact", "function", fn.Name, "digest", d)
			keep = append(keep, d)
		}
	}
	st.Previous = append(keep, st.Previous[len(st.Previous)-1])
}

// deleteArtifact deletes the manifest d from fn's repository; one already
// gone is deleted.
func (r *FunctionReconciler) deleteArtifact(ctx context.Context, fn *faasv1.Function, d string) error {
	dg, err := digest.Parse(d)
	if err != nil {
		return nil // never pushed: nothing to delete
	}
	repo, err := r.Packages.Registry.Repository(ctx, packages.Repository(fn.Namespace, fn.Name))
	if err != nil {
		return err
	}
	// oras checks the manifest it deletes against its descriptor: resolve
	// it first.
	desc, err := repo.Resolve(ctx, dg.String())
	if err == nil {
		err = repo.Delete(ctx, desc)
	}
	if err != nil && !errors.Is(err, errdef.ErrNotFound) {
		return fmt.Errorf("delete package artifact %s of %s: %w", d, fn.Name, err)
	}
	log.FromContext(ctx).V(1).Info("Deleted package artifact", "function", fn.Name, "digest", d)
	return nil
}
