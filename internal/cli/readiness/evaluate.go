package readiness

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/kube"
	"github.com/minifaas/minifaas/internal/resources"
)

// RunnerContainer is the name of the container that runs a function's
// code in every function pod (internal/resources/podspec.go).
const RunnerContainer = "runner"

// State is where a Function stands.
type State int

const (
	// Waiting: not ready yet, and nothing says it will not become ready.
	Waiting State = iota
	// Ready: it serves its current spec, or is scaled to zero with every
	// object in place to start a pod on the first call.
	Ready
	// Failed: its code did not load, or the operator could not build its
	// objects; waiting longer does not help.
	Failed
)

// Pending is the Reason of a Function whose latest generation the
// operator has not acted on yet.
const Pending = "Pending"

// Objects are what was made for a Function; nil or false where absent.
type Objects struct {
	Deployment *appsv1.Deployment
	Service    bool
	ConfigMap  bool
	// Pods are the pods labelled with the function's name.
	Pods []corev1.Pod
}

// Status is a Function's State with a one-line reason.
type Status struct {
	State State
	// Reason is the Ready condition's reason, or "Pending" before the
	// operator has seen the current generation.
	Reason  string
	Message string
}

// Evaluate tells whether fn is ready to serve its current generation.
func Evaluate(fn *faasv1.Function, objs Objects) Status {
	cond := meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionReady)
	if fn.Status.ObservedGeneration < fn.Generation || cond == nil || cond.ObservedGeneration < fn.Generation {
		return Status{State: Waiting, Reason: Pending, Message: fmt.Sprintf(
			"waiting for the operator to act on generation %d", fn.Generation)}
	}
	switch cond.Reason {
	case faasv1.ReasonLoadFailed, faasv1.ReasonReconcileFailed:
		return Status{State: Failed, Reason: cond.Reason, Message: cond.Message}
	case faasv1.ReasonScaledToZero:
		if missing := missingObjects(fn, objs); len(missing) > 0 {
			return Status{State: Waiting, Reason: cond.Reason, Message: "waiting for " + strings.Join(missing, ", ")}
		}
		return Status{State: Ready, Reason: cond.Reason, Message: "scaled to zero; the first call starts a pod"}
	case faasv1.ReasonAvailable:
		current, ready := currentPods(fn, objs.Pods)
		if ready > 0 && rolledOut(objs.Deployment) {
			return Status{State: Ready, Reason: cond.Reason, Message: cond.Message}
		}
		return Status{State: Waiting, Reason: "RollingOut", Message: fmt.Sprintf(
			"the old code still serves; %d of %d pods with the new code ready%s", ready, current, podDetail(fn, objs.Pods))}
	default:
		return Status{State: Waiting, Reason: cond.Reason, Message: cond.Message + podDetail(fn, objs.Pods)}
	}
}

func missingObjects(fn *faasv1.Function, objs Objects) []string {
	var missing []string
	if objs.Deployment == nil {
		missing = append(missing, "Deployment "+resources.DeploymentName(fn))
	}
	if !objs.Service {
		missing = append(missing, "Service "+resources.ServiceName(fn))
	}
	if !objs.ConfigMap {
		missing = append(missing, "ConfigMap "+resources.ConfigMapName(fn))
	}
	return missing
}

// current tells whether pod runs fn's current code: a Deployment pod with
// the current code hash, or a pool pod the gateway specialized (pool pods
// of older code are retired by the gateway when the code changes).
func current(fn *faasv1.Function, pod *corev1.Pod) bool {
	if !pod.DeletionTimestamp.IsZero() {
		return false
	}
	if pod.Labels[resources.PoolStateLabel] == resources.PoolSpecialized {
		return true
	}
	return pod.Annotations[resources.CodeHashAnnotation] == fn.Status.CodeHash
}

func currentPods(fn *faasv1.Function, pods []corev1.Pod) (all, ready int) {
	for i := range pods {
		if current(fn, &pods[i]) {
			all++
			if kube.PodReady(&pods[i]) {
				ready++
			}
		}
	}
	return all, ready
}

// rolledOut tells whether the Deployment has replaced every old pod, as
// `kubectl rollout status` does; no Deployment pods (pool pods serve) is
// rolled out too.
func rolledOut(dep *appsv1.Deployment) bool {
	if dep == nil {
		return false
	}
	if dep.Status.ObservedGeneration < dep.Generation {
		return false
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	return dep.Status.UpdatedReplicas >= want && dep.Status.Replicas <= dep.Status.UpdatedReplicas
}

// podDetail says why the current pods are not ready, e.g.
// "; pod fn-x-deploy-1: ImagePullBackOff".
func podDetail(fn *faasv1.Function, pods []corev1.Pod) string {
	var notes []string
	for i := range pods {
		p := &pods[i]
		if !current(fn, p) || kube.PodReady(p) {
			continue
		}
		if n := PodProblem(p); n != "" {
			notes = append(notes, "pod "+p.Name+": "+n)
		}
	}
	sort.Strings(notes)
	if len(notes) == 0 {
		return ""
	}
	return "; " + strings.Join(notes, "; ")
}

// PodProblem is why pod's runner is not ready, in a few words: its
// waiting reason and message, "Pending" with the scheduler's reason, or
// "running, not ready yet".
func PodProblem(pod *corev1.Pod) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != RunnerContainer {
			continue
		}
		switch {
		case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil:
			// Crash-looping: the last exit says why, not the back-off.
			return cs.State.Waiting.Reason + ", last " + exited(cs.LastTerminationState.Terminated)
		case cs.State.Waiting != nil:
			return withMessage(cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			return exited(cs.State.Terminated)
		case cs.State.Running != nil:
			return "running, not ready yet"
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return withMessage("Unschedulable", c.Message)
		}
	}
	return string(pod.Status.Phase)
}

func exited(t *corev1.ContainerStateTerminated) string {
	return withMessage(fmt.Sprintf("exited with code %d", t.ExitCode), t.Message)
}

func withMessage(reason, msg string) string {
	if msg == "" {
		return reason
	}
	msg = strings.TrimSpace(msg)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return reason + " (" + msg + ")"
}
