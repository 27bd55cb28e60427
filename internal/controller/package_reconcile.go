package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"oras.land/oras-go/v2/registry/remote"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/resources"
)

// Packages is what the Function reconciler needs to build packages.
type Packages struct {
	// Registry reaches the registry and the fetcher.
	Registry *PackageRegistry
	// Image is the faas-package image of the build steps.
	Image string
	// BuildDeadline bounds one build Job.
	BuildDeadline time.Duration
	// PollInterval is how often a running build is looked at;
	// RetryInterval how long after a failure of the platform's (the
	// registry, a build pod) a build is tried again, and how often an
	// invalid source (not pushed yet) is looked for again.
	PollInterval, RetryInterval time.Duration
	// JobTTL is how long a finished build Job, and the pip output it
	// holds, is kept.
	JobTTL time.Duration
	// CleanupGiveUp is how long a deleted Function waits for its
	// artifacts to be deleted from an unreachable registry.
	CleanupGiveUp time.Duration
}

// Defaults of Packages' intervals.
const (
	DefaultBuildPollInterval  = 2 * time.Second
	DefaultBuildRetryInterval = 30 * time.Second
	DefaultBuildJobTTL        = time.Hour
	DefaultCleanupGiveUp      = 2 * time.Minute
)

func (p *Packages) enabled() bool { return p != nil && p.Registry != nil }

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (p *Packages) pollInterval() time.Duration {
	return orDefault(p.PollInterval, DefaultBuildPollInterval)
}
func (p *Packages) retryInterval() time.Duration {
	return orDefault(p.RetryInterval, DefaultBuildRetryInterval)
}
func (p *Packages) jobTTL() time.Duration { return orDefault(p.JobTTL, DefaultBuildJobTTL) }
func (p *Packages) cleanupGiveUp() time.Duration {
	return orDefault(p.CleanupGiveUp, DefaultCleanupGiveUp)
}

// jobEnded is when job finished, or its creation if it did not say.
func jobEnded(job *batchv1.Job) time.Time {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobFailed || c.Type == batchv1.JobComplete) && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return job.CreationTimestamp.Time
}

// redact removes the pip settings' values from a build's message, which
// the Function's readers see: pip may print its environment.
func (r *FunctionReconciler) redact(ctx context.Context, msg string) string {
	pip, err := r.pipSettings(ctx)
	if err != nil {
		return "the build failed; its message is withheld because the pip settings could not be read to redact it"
	}
	return packagebuild.Redact(msg, pip)
}

// jobNameLabel is the label the Job controller puts on a Job's pods.
const jobNameLabel = "batch.kubernetes.io/job-name"

// PackagesFinalizer lets the operator delete a Function's artifacts from
// the registry before the Function goes.
const PackagesFinalizer = "faas.example.com/packages"

// +kubebuilder:rbac:groups=faas.example.com,resources=functions,verbs=patch
// +kubebuilder:rbac:groups=batch,namespace=faas-system,resources=jobs,verbs=get;list;create;delete

// reconcilePackage brings fn's package to built and records it in
// fn.Status.Package and the PackageBuilt condition: it reads the source's
// manifest, reuses the last dependency layer when the requirements, runner
// image and pip settings are unchanged (pushing only a new manifest),
// builds them with a Job otherwise, and deletes superseded artifacts. The
// artifact serving now stays in status until its successor is built, so a
// new version never interrupts the old one. It returns when to look again.
func (r *FunctionReconciler) reconcilePackage(ctx context.Context, fn *faasv1.Function) (time.Duration, error) {
	if fn.Spec.Package == nil {
		return 0, r.dropPackage(ctx, fn)
	}
	if !r.Packages.enabled() {
		setPackageCondition(fn, metav1.ConditionFalse, faasv1.ReasonPackageInvalid, "this operator runs without a package registry (--package-image)")
		return 0, nil
	}
	if err := r.ensureFinalizer(ctx, fn); err != nil {
		return 0, err
	}
	st := fn.Status.Package
	if st == nil {
		st = &faasv1.PackageStatus{}
		fn.Status.Package = st
	}
	var requeue time.Duration
	if st.Source != fn.Spec.Package.Source || st.Digest == "" {
		var err error
		requeue, err = r.buildPackage(ctx, fn)
		if errors.Is(err, errInvalidPackage) {
			setPackageCondition(fn, metav1.ConditionFalse, faasv1.ReasonPackageInvalid, err.Error())
			return r.Packages.retryInterval(), nil
		}
		if err != nil {
			setPackageCondition(fn, metav1.ConditionFalse, faasv1.ReasonBuilding, "waiting for the registry: "+err.Error())
			return 0, err
		}
		if st.Source != fn.Spec.Package.Source || st.Digest == "" {
			return requeue, nil // building, or failed: the condition says which
		}
	}
	if err := r.refreshFetch(ctx, fn); err != nil {
		return 0, err
	}
	setPackageCondition(fn, metav1.ConditionTrue, faasv1.ReasonBuilt, "built as "+st.Digest)
	r.collectPrevious(ctx, fn)
	return requeue, nil
}

// buildPackage takes one step towards fn's source built: it ends with
// fn.Status.Package switched to the built artifact, or a build running or
// failed (recorded in the condition).
func (r *FunctionReconciler) buildPackage(ctx context.Context, fn *faasv1.Function) (time.Duration, error) {
	src := fn.Spec.Package.Source
	repoName := packages.Repository(fn.Namespace, fn.Name)
	repo, err := r.Packages.Registry.Repository(ctx, repoName)
	if err != nil {
		return 0, err
	}
	s, err := readSource(ctx, repo, src)
	if err != nil {
		return 0, fmt.Errorf("source %s of %s: %w", src, repoName, err)
	}
	st := fn.Status.Package
	if s.requirements == nil {
		built, err := packagebuild.CodeOnly(ctx, repo, digest.Digest(src), ocispec.Descriptor{})
		if err != nil {
			return 0, userError(err)
		}
		switchPackage(st, src, built.Digest.String(), "", "")
		return 0, nil
	}
	image := r.Images.Image(fn.Spec.Runtime)
	pip, err := r.pipSettings(ctx)
	if err != nil {
		return 0, err
	}
	key := dependencyKey(s.requirements.Digest, image, pip)
	if st.Dependencies == key && st.Digest != "" {
		// Only the code changed: a new manifest of the new code and the
		// dependencies already built, no build and no upload.
		deps, ok, err := packagebuild.BuiltDepsLayer(ctx, repo, digest.Digest(st.Digest))
		if err == nil && ok {
			built, err := packagebuild.CodeOnly(ctx, repo, digest.Digest(src), deps)
			if err == nil {
				switchPackage(st, src, built.Digest.String(), key, deps.Digest.String())
				log.FromContext(ctx).Info("Reused the package's dependencies", "function", fn.Name, "digest", built.Digest)
				return 0, nil
			}
			if !errors.Is(userError(err), errInvalidPackage) {
				return 0, err
			}
		}
		// The last build is gone from the registry: build again.
	}
	return r.runBuild(ctx, fn, repo, key, image)
}

// runBuild creates the build Job of key, or reads how it went.
func (r *FunctionReconciler) runBuild(ctx context.Context, fn *faasv1.Function, repo *remote.Repository, key, image string) (time.Duration, error) {
	src := fn.Spec.Package.Source
	sys := r.Packages.Registry.Namespace
	var job batchv1.Job
	jobKey := client.ObjectKey{Namespace: sys, Name: resources.BuildJobName(fn, key)}
	err := r.Packages.Registry.Reader.Get(ctx, jobKey, &job)
	if apierrors.IsNotFound(err) {
		return r.Packages.pollInterval(), r.startBuild(ctx, fn, key, image)
	}
	if err != nil {
		return 0, fmt.Errorf("get build Job %s: %w", jobKey, err)
	}
	var pods corev1.PodList
	if err := r.Packages.Registry.Reader.List(ctx, &pods, client.InNamespace(sys), client.MatchingLabels{jobNameLabel: job.Name}); err != nil {
		return 0, fmt.Errorf("list pods of build Job %s: %w", jobKey, err)
	}
	state, res, msg, retry := buildOutcome(&job, pods.Items)
	switch state {
	case buildRunning:
		setPackageCondition(fn, metav1.ConditionFalse, faasv1.ReasonBuilding,
			fmt.Sprintf("installing requirements.txt of %s (Job %s)", src, jobKey))
		return r.Packages.pollInterval(), nil
	case buildFailed:
		msg = r.redact(ctx, msg)
		if job.Annotations[resources.BuildSourceAnnotation] != src {
			// A new source with the same requirements is a new attempt.
			return r.Packages.pollInterval(), r.deleteJob(ctx, &job)
		}
		if retry {
			// The platform failed (the registry, the pod), not the
			// requirements: try again after a pause.
			wait := r.Packages.retryInterval() - time.Since(jobEnded(&job))
			if wait <= 0 {
				return r.Packages.pollInterval(), r.deleteJob(ctx, &job)
			}
			setPackageCondition(fn, metav1.ConditionFalse, faasv1.ReasonBuilding,
				fmt.Sprintf("the build failed for a reason other than the requirements; trying again in %s: %s", wait.Round(time.Second), msg))
			return wait, nil
		}
		setPackageCondition(fn, metav1.ConditionFalse, faasv1.ReasonBuildFailed, msg)
		return 0, nil
	}
	deps, ok, err := packagebuild.BuiltDepsLayer(ctx, repo, digest.Digest(res.Digest))
	if err != nil || !ok {
		if err = userError(err); err == nil || errors.Is(err, errInvalidPackage) {
			// Its artifact was collected since: build again.
			return r.Packages.pollInterval(), r.deleteJob(ctx, &job)
		}
		return 0, err
	}
	built := res.Digest
	if job.Annotations[resources.BuildSourceAnnotation] != src {
		// Built for an older source with the same requirements.
		desc, err := packagebuild.CodeOnly(ctx, repo, digest.Digest(src), deps)
		if err != nil {
			return 0, userError(err)
		}
		built = desc.Digest.String()
	}
	switchPackage(fn.Status.Package, src, built, key, deps.Digest.String())
	log.FromContext(ctx).Info("Built package", "function", fn.Name, "digest", built, "job", jobKey.Name)
	return 0, nil
}

// startBuild creates the build Job of fn's source with dependency key key,
// after the NetworkPolicy that confines build pods.
func (r *FunctionReconciler) startBuild(ctx context.Context, fn *faasv1.Function, key, image string) error {
	sys := r.Packages.Registry.Namespace
	iso, err := r.Network.Isolation(ctx)
	if err != nil {
		return err
	}
	if err := applyUnowned(ctx, r.Client, resources.MakeBuildNetworkPolicy(sys, iso)); err != nil {
		return err
	}
	addr, err := r.Packages.Registry.RegistryAddress(ctx)
	if err != nil {
		return err
	}
	plain, err := r.Packages.Registry.PlainHTTP(ctx)
	if err != nil {
		return err
	}
	job := resources.MakeBuildJob(fn, resources.BuildParams{
		Namespace: sys, Registry: addr, PlainHTTP: plain, Repository: packages.Repository(fn.Namespace, fn.Name),
		Source: fn.Spec.Package.Source, Dependencies: key, PackageImage: r.Packages.Image, RuntimeImage: image,
		DeadlineSeconds: int64(max(r.Packages.BuildDeadline, time.Minute) / time.Second),
	})
	job.Spec.TTLSecondsAfterFinished = ptr.To(int32(r.Packages.jobTTL() / time.Second))
	if err := r.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create build Job %s/%s: %w", sys, job.Name, err)
	}
	setPackageCondition(fn, metav1.ConditionFalse, faasv1.ReasonBuilding,
		fmt.Sprintf("installing requirements.txt of %s (Job %s/%s)", fn.Spec.Package.Source, sys, job.Name))
	log.FromContext(ctx).Info("Started package build", "function", fn.Name, "job", job.Name)
	return nil
}

func (r *FunctionReconciler) deleteJob(ctx context.Context, job *batchv1.Job) error {
	err := r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete build Job %s: %w", job.Name, err)
	}
	return nil
}

// pipSettings returns the data of the optional pip Secret.
func (r *FunctionReconciler) pipSettings(ctx context.Context) (map[string][]byte, error) {
	var s corev1.Secret
	err := r.Packages.Registry.Reader.Get(ctx, client.ObjectKey{Namespace: r.Packages.Registry.Namespace, Name: resources.PipSecret}, &s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get pip settings %s: %w", resources.PipSecret, err)
	}
	return s.Data, nil
}

// refreshFetch sets where and with which ticket runners fetch the current
// artifact.
func (r *FunctionReconciler) refreshFetch(ctx context.Context, fn *faasv1.Function) error {
	st := fn.Status.Package
	url, err := r.Packages.Registry.FetchURL(ctx, fn.Namespace, fn.Name, st.Digest)
	if err != nil {
		return err
	}
	key, err := r.Packages.Registry.TicketKey(ctx)
	if err != nil {
		return err
	}
	ticket, err := packages.Ticket(key, packages.Repository(fn.Namespace, fn.Name), digest.Digest(st.Digest))
	if err != nil {
		return err
	}
	st.FetchURL, st.Ticket = url, ticket
	return nil
}

// switchPackage makes built the artifact of source. What it replaces is
// kept in previous: collectPrevious deletes all but the last artifact
// replaced, which pods of the last version may still be starting with.
func switchPackage(st *faasv1.PackageStatus, source, built, deps, depsLayer string) {
	if st.Source != "" && st.Source != source {
		st.Previous = append(st.Previous, st.Source)
	}
	if st.Digest != "" && st.Digest != built {
		st.Previous = append(st.Previous, st.Digest)
	}
	st.Source, st.Digest, st.Dependencies, st.DependenciesLayer = source, built, deps, depsLayer
	st.Previous = slices.DeleteFunc(st.Previous, func(d string) bool { return d == source || d == built })
	if over := len(st.Previous) - maxPrevious; over > 0 {
		// The status' MaxItems; the oldest are dropped, and collected
		// with the Function.
		st.Previous = st.Previous[over:]
	}
}

// maxPrevious is status.package.previous' MaxItems.
const maxPrevious = 16

// setPackageCondition sets the PackageBuilt condition.
func setPackageCondition(fn *faasv1.Function, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&fn.Status.Conditions, metav1.Condition{
		Type: faasv1.ConditionPackageBuilt, Status: status, Reason: reason,
		Message: truncate(msg, 30000), ObservedGeneration: fn.Generation,
	})
}
