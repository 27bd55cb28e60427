package readiness

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// EvaluatePackage tells whether the package source (a source artifact's
// digest) of fn's current generation is built: Ready once the operator
// records it as status.package.source with PackageBuilt=True; Failed on
// PackageBuilt=False with reason BuildFailed (the message is pip's
// output, or the failing build step's) or PackageInvalid; else Waiting,
// with the operator's progress.
func EvaluatePackage(fn *faasv1.Function, source string) Status {
	cond := meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionPackageBuilt)
	if cond == nil || cond.ObservedGeneration < fn.Generation {
		return Status{State: Waiting, Reason: Pending, Message: fmt.Sprintf(
			"waiting for the operator to build package %s (generation %d)", short(source), fn.Generation)}
	}
	st := fn.Status.Package
	switch {
	case cond.Status == metav1.ConditionTrue && st != nil && st.Source == source && st.Digest != "":
		msg := "built as " + short(st.Digest)
		if st.Dependencies != "" {
			msg += ", dependencies " + short(st.Dependencies)
		}
		return Status{State: Ready, Reason: cond.Reason, Message: msg}
	case cond.Status == metav1.ConditionTrue:
		// The condition of this generation with the status of another
		// source: a status the operator has not finished writing.
		return Status{State: Waiting, Reason: Pending, Message: fmt.Sprintf(
			"waiting for the operator to record package %s as built", short(source))}
	case cond.Reason == faasv1.ReasonBuildFailed || cond.Reason == faasv1.ReasonPackageInvalid:
		return Status{State: Failed, Reason: cond.Reason, Message: cond.Message}
	case cond.Reason == faasv1.ReasonBuilding:
		return Status{State: Waiting, Reason: cond.Reason, Message: "building dependencies… " + cond.Message}
	}
	return Status{State: Waiting, Reason: cond.Reason, Message: cond.Message}
}

// short is a digest as "sha256:" and its first 12 hex digits.
func short(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}
