package controller

import (
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/kube"
	"github.com/minifaas/minifaas/internal/resources"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// setObservedStatus fills fn.Status from its Deployment and pods: the
// Deployment's pods plus the pool pods the gateway specialized for it.
//
// A load failure of the current code and env is kept while no pod is ready
// for hold after it was found, so callers are told at once; after that the
// function is tried again by the next call (the cause may have been outside
// the spec: a Secret's value, the network). The returned duration is how
// long the kept failure has left, for a requeue; 0 when none is kept.
func setObservedStatus(fn *faasv1.Function, dep *appsv1.Deployment, pods []corev1.Pod, now time.Time, hold time.Duration) (keptFor time.Duration) {
	prevHash, prevReady := fn.Status.CodeHash, meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionReady)
	desired := resources.DesiredReplicas(fn)
	fromPool, fromPoolReady := specializedPods(pods)
	fn.Status.PoolPods = poolPodsOf(fn, pods)
	fn.Status.DesiredReplicas = desired
	fn.Status.Replicas = dep.Status.Replicas + fromPool
	fn.Status.ReadyReplicas = dep.Status.ReadyReplicas + fromPoolReady
	fn.Status.Selector = labels.SelectorFromSet(resources.SelectorLabels(fn)).String()
	fn.Status.ObservedGeneration = fn.Generation
	fn.Status.CodeHash = resources.CodeHash(fn)

	ready := metav1.Condition{Type: faasv1.ConditionReady, ObservedGeneration: fn.Generation}
	switch msg := loadFailure(pods, fn.Status.CodeHash); {
	case msg != "":
		ready.Status, ready.Reason = metav1.ConditionFalse, faasv1.ReasonLoadFailed
		ready.Message = "the function's code failed to load: " + msg
	case fn.Status.ReadyReplicas == 0 && prevReady != nil && prevReady.Reason == faasv1.ReasonLoadFailed && prevHash == fn.Status.CodeHash &&
		now.Sub(prevReady.LastTransitionTime.Time) < hold:
		// The code that failed is still the code: it stays failed when its
		// pods are gone (scaled to zero), so callers are told at once
		// instead of waiting for another crash, until hold has passed.
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, faasv1.ReasonLoadFailed, prevReady.Message
		keptFor = hold - now.Sub(prevReady.LastTransitionTime.Time)
	case fn.Status.ReadyReplicas > 0:
		ready.Status, ready.Reason = metav1.ConditionTrue, faasv1.ReasonAvailable
		ready.Message = fmt.Sprintf("%d of %d pods ready", fn.Status.ReadyReplicas, desired+fromPool)
	case desired == 0:
		ready.Status, ready.Reason = metav1.ConditionTrue, faasv1.ReasonScaledToZero
		ready.Message = "scaled to zero; the next call starts a pod"
	default:
		ready.Status, ready.Reason = metav1.ConditionFalse, faasv1.ReasonStarting
		ready.Message = fmt.Sprintf("waiting for %d pod(s) to become ready", desired)
	}
	meta.SetStatusCondition(&fn.Status.Conditions, ready)
	return keptFor
}

// specializedPods counts the function's live pods that came from a pool,
// and how many of them are ready.
func specializedPods(pods []corev1.Pod) (all, ready int32) {
	for i := range pods {
		p := &pods[i]
		if !livePoolPod(p, resources.PoolSpecialized) {
			continue
		}
		all++
		if kube.PodReady(p) {
			ready++
		}
	}
	return all, ready
}

// maxListedPoolPods bounds status.poolPods (its schema's MaxItems).
const maxListedPoolPods = 1000

// poolPodsOf lists fn's live pool pods, by name, for the gateway: those
// fn controls (the hand-over makes it their owner), with sane annotations.
func poolPodsOf(fn *faasv1.Function, pods []corev1.Pod) []faasv1.PoolPod {
	var out []faasv1.PoolPod
	for i := range pods {
		p := &pods[i]
		hash := p.Annotations[resources.SpecHashAnnotation]
		if !livePoolPod(p, resources.PoolSpecialized) || len(hash) > maxSpecHash {
			continue
		}
		if !controlledBy(p, fn) {
			continue
		}
		out = append(out, faasv1.PoolPod{Name: p.Name, PodIP: p.Status.PodIP, Ready: kube.PodReady(p), SpecHash: hash})
	}
	sortByName(out)
	return out[:min(len(out), maxListedPoolPods)]
}

// sortByName orders listed pool pods by name, so a status does not change
// with the cache's order.
func sortByName(pods []faasv1.PoolPod) {
	slices.SortFunc(pods, func(a, b faasv1.PoolPod) int { return strings.Compare(a.Name, b.Name) })
}

// controlledBy: fn is p's controller.
func controlledBy(p *corev1.Pod, fn *faasv1.Function) bool {
	ref := metav1.GetControllerOf(p)
	return ref != nil && ref.UID == fn.UID
}

// maxSpecHash bounds a listed specHash (its schema's MaxLength).
const maxSpecHash = 128

// livePoolPod: p is a pool pod in state, neither deleted nor ended.
func livePoolPod(p *corev1.Pod, state string) bool {
	return p.Labels[resources.PoolStateLabel] == state && p.DeletionTimestamp.IsZero() && !podEnded(p)
}

// podEnded: p's containers ended for good (its restart policy is Never,
// or it was told to stop); the pod object only lingers.
func podEnded(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}

// setFailed records that the operator could not build the function's objects.
func setFailed(fn *faasv1.Function, err error) {
	meta.SetStatusCondition(&fn.Status.Conditions, metav1.Condition{
		Type:               faasv1.ConditionReady,
		Status:             metav1.ConditionFalse,
		Reason:             faasv1.ReasonReconcileFailed,
		Message:            err.Error(),
		ObservedGeneration: fn.Generation,
	})
}

// loadFailure returns the termination message of a runner that exited
// while loading the current code, or "" if none did. Only the runner's own
// load-failure exit code counts: a crash or an OOM kill after the code
// loaded is not a load failure. Pods of older code are ignored: their
// failures say nothing about what runs now.
func loadFailure(pods []corev1.Pod, codeHash string) string {
	for i := range pods {
		pod := &pods[i]
		if pod.Annotations[resources.CodeHashAnnotation] != codeHash || !pod.DeletionTimestamp.IsZero() {
			continue
		}
		for _, cs := range pod.Status.ContainerStatuses {
			for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
				if t != nil && t.ExitCode == runnerapi.LoadFailedExitCode && t.Message != "" {
					return t.Message
				}
			}
		}
	}
	return ""
}

// setUnbuilt makes a Function whose package was never built not Ready,
// with the build's state as the reason. One whose new version is being
// built keeps serving the last built one and stays as observed.
func setUnbuilt(fn *faasv1.Function) {
	if resources.PackageBuilt(fn) {
		return
	}
	ready := metav1.Condition{Type: faasv1.ConditionReady, Status: metav1.ConditionFalse, ObservedGeneration: fn.Generation,
		Reason: faasv1.ReasonBuilding, Message: "the function's package is not built yet"}
	if c := meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionPackageBuilt); c != nil && c.Status != metav1.ConditionTrue {
		ready.Reason, ready.Message = c.Reason, c.Message
	}
	meta.SetStatusCondition(&fn.Status.Conditions, ready)
}
