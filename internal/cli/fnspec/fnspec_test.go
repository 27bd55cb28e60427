package fnspec

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/cli/project"
)

func TestBuildHoldsOnlyTheSettingsGiven(t *testing.T) {
	timeout := project.Seconds(60)
	u := Build("ns", project.Settings{Name: "f", Handler: "main", Env: map[string]string{"B": "2", "A": "1"},
		Min: ptr.To[int32](0), Timeout: &timeout}, "code")
	if u.GetAPIVersion() != "faas.example.com/v1alpha1" || u.GetKind() != "Function" || u.GetNamespace() != "ns" || u.GetName() != "f" {
		t.Errorf("object = %v", u.Object)
	}
	want := map[string]any{
		"code":           "code",
		"handler":        "main",
		"env":            []any{map[string]any{"name": "A", "value": "1"}, map[string]any{"name": "B", "value": "2"}},
		"minReplicas":    int64(0),
		"timeoutSeconds": int64(60),
	}
	if got := u.Object["spec"]; !reflect.DeepEqual(got, want) {
		t.Errorf("spec = %#v\nwant %#v", got, want)
	}
	// DeepCopy panics on types unstructured objects may not hold.
	_ = u.DeepCopy()
}

func TestDiff(t *testing.T) {
	base := faasv1.FunctionSpec{Code: "a\nb\nc\n", Runtime: "python", Handler: "handle", MaxReplicas: 5, Concurrency: 10,
		TimeoutSeconds: 30, IdleTimeoutSeconds: 60, Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}}
	fn := func(mut func(*faasv1.FunctionSpec)) *faasv1.Function {
		s := *base.DeepCopy()
		mut(&s)
		return &faasv1.Function{Spec: s}
	}
	for _, tc := range []struct {
		name   string
		before *faasv1.Function
		after  *faasv1.Function
		verb   string
		want   []Change
	}{
		{"created", nil, fn(func(*faasv1.FunctionSpec) {}), "created", nil},
		{"unchanged, even with other replicas and env order", fn(func(*faasv1.FunctionSpec) {}), fn(func(s *faasv1.FunctionSpec) {
			s.Replicas = ptr.To[int32](3)
			s.Env[0], s.Env[1] = s.Env[1], s.Env[0]
		}), "unchanged", nil},
		{"code", fn(func(*faasv1.FunctionSpec) {}), fn(func(s *faasv1.FunctionSpec) { s.Code = "a\nB\nc\nd\n" }), "updated",
			[]Change{{"code", "changed: 2 lines added, 1 line removed"}}},
		{"env and numbers", fn(func(*faasv1.FunctionSpec) {}), fn(func(s *faasv1.FunctionSpec) {
			s.Env = []corev1.EnvVar{{Name: "B", Value: "3"}, {Name: "C", Value: "x"}}
			s.MinReplicas, s.MaxReplicas, s.Handler = 1, 3, "main"
		}), "updated", []Change{
			{"handler", "handle → main"},
			{"env", "added C; changed B; removed A"},
			{"minReplicas", "0 → 1"},
			{"maxReplicas", "5 → 3"},
		}},
		{"fields faas does not set", fn(func(*faasv1.FunctionSpec) {}), fn(func(s *faasv1.FunctionSpec) { s.TargetUtilization = 50 }),
			"updated", []Change{{"other", "fields faas does not set changed (kubectl get fn -o yaml shows them)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.before, tc.after)
			if got.Verb() != tc.verb || !reflect.DeepEqual(got.Fields, tc.want) {
				t.Errorf("Diff = %s %+v, want %s %+v", got.Verb(), got.Fields, tc.verb, tc.want)
			}
		})
	}
}

func TestChangesString(t *testing.T) {
	c := Changes{Fields: []Change{{"code", "changed"}, {"maxReplicas", "5 → 3"}}}
	want := "  code         changed\n  maxReplicas  5 → 3\n"
	if got := c.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
