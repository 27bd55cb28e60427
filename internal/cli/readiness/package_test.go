package readiness

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

func TestEvaluatePackage(t *testing.T) {
	src, old := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("0", 64)
	built, deps := "sha256:"+strings.Repeat("b", 64), "sha256:"+strings.Repeat("d", 64)
	pipOutput := "pip install failed:\nERROR: Could not find a version that satisfies the requirement nosuch==1.0\nERROR: No matching distribution found for nosuch==1.0"
	fn := func(gen, condGen int64, status metav1.ConditionStatus, reason, msg string, st *faasv1.PackageStatus) *faasv1.Function {
		f := &faasv1.Function{ObjectMeta: metav1.ObjectMeta{Name: "f", Generation: gen}}
		f.Spec.Package = &faasv1.FunctionPackage{Source: src}
		f.Status.Package = st
		if reason != "" {
			f.Status.Conditions = []metav1.Condition{{Type: faasv1.ConditionPackageBuilt, Status: status, Reason: reason, Message: msg, ObservedGeneration: condGen}}
		}
		return f
	}
	for _, tc := range []struct {
		name string
		fn   *faasv1.Function
		want Status
	}{
		{"no condition yet", fn(2, 0, "", "", "", nil),
			Status{Waiting, Pending, "waiting for the operator to build package sha256:aaaaaaaaaaaa (generation 2)"}},
		{"a failure of an older generation", fn(2, 1, metav1.ConditionFalse, faasv1.ReasonBuildFailed, pipOutput, nil),
			Status{Waiting, Pending, "waiting for the operator to build package sha256:aaaaaaaaaaaa (generation 2)"}},
		{"building", fn(2, 2, metav1.ConditionFalse, faasv1.ReasonBuilding, "installing requirements.txt of "+src, nil),
			Status{Waiting, faasv1.ReasonBuilding, "building dependencies… installing requirements.txt of " + src}},
		{"the old package still serves while the new one builds",
			fn(2, 2, metav1.ConditionFalse, faasv1.ReasonBuilding, "installing", &faasv1.PackageStatus{Source: old, Digest: built}),
			Status{Waiting, faasv1.ReasonBuilding, "building dependencies… installing"}},
		{"build failed", fn(2, 2, metav1.ConditionFalse, faasv1.ReasonBuildFailed, pipOutput, nil),
			Status{Failed, faasv1.ReasonBuildFailed, pipOutput}},
		{"refused", fn(2, 2, metav1.ConditionFalse, faasv1.ReasonPackageInvalid, "invalid package: sha256:… is not in the registry", nil),
			Status{Failed, faasv1.ReasonPackageInvalid, "invalid package: sha256:… is not in the registry"}},
		{"built, of another source", fn(2, 2, metav1.ConditionTrue, faasv1.ReasonBuilt, "built", &faasv1.PackageStatus{Source: old, Digest: built}),
			Status{Waiting, Pending, "waiting for the operator to record package sha256:aaaaaaaaaaaa as built"}},
		{"built", fn(2, 2, metav1.ConditionTrue, faasv1.ReasonBuilt, "built as "+built,
			&faasv1.PackageStatus{Source: src, Digest: built, Dependencies: deps}),
			Status{Ready, faasv1.ReasonBuilt, "built as sha256:bbbbbbbbbbbb, dependencies sha256:dddddddddddd"}},
		{"built without requirements", fn(2, 3, metav1.ConditionTrue, faasv1.ReasonBuilt, "built", &faasv1.PackageStatus{Source: src, Digest: built}),
			Status{Ready, faasv1.ReasonBuilt, "built as sha256:bbbbbbbbbbbb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := EvaluatePackage(tc.fn, src); got != tc.want {
				t.Errorf("EvaluatePackage = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
