package gateway

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// A function whose first package is being built has callers wait, like any
// start; one whose build failed has them told why at once; a built one
// serves.
func TestCallsToAnUnbuiltPackageWaitUnlessTheBuildFailed(t *testing.T) {
	for _, c := range []struct {
		name, reason string
		built        bool
		failFast     bool
	}{
		{"no status yet", "", false, false},
		{"building", faasv1.ReasonBuilding, false, false},
		{"build failed", faasv1.ReasonBuildFailed, false, true},
		{"source invalid", faasv1.ReasonPackageInvalid, false, true},
		{"rebuild failed, old version serves", faasv1.ReasonBuildFailed, true, false},
	} {
		fn := &faasv1.Function{Spec: faasv1.FunctionSpec{Runtime: faasv1.RuntimePython, Handler: "handle", MaxReplicas: 1,
			Package: &faasv1.FunctionPackage{Source: "sha256:s"}}}
		fn.Namespace, fn.Name = "ns", "fn"
		if c.reason != "" {
			fn.Status.Conditions = []metav1.Condition{{Type: faasv1.ConditionPackageBuilt, Status: metav1.ConditionFalse, Reason: c.reason, Message: "pip said no"}}
		}
		if c.built {
			fn.Status.Package = &faasv1.PackageStatus{Digest: "sha256:b", FetchURL: "http://10.0.0.1:8090/x", Ticket: "t"}
		}
		info := infoOf(fn, nil)
		if got := info.Unbuilt != ""; got != c.failFast {
			t.Errorf("%s: fails fast %v (%q), want %v", c.name, got, info.Unbuilt, c.failFast)
		}
		if (info.Spec != nil) != c.built {
			t.Errorf("%s: pool specialization %v, want one only when built", c.name, info.Spec != nil)
		}
	}
}
