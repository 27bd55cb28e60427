package fnspec

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

func TestBuildPackageHasNoCodeAndBuildNoPackage(t *testing.T) {
	s := project.Settings{Name: "f", Handler: "main", Module: "ignored.here"}
	src := "sha256:" + strings.Repeat("a", 64)
	u := BuildPackage("ns", s, src, "app.main")
	wantPkg := map[string]any{"source": src, "module": "app.main"}
	if got := u.Object["spec"].(map[string]any); !reflect.DeepEqual(got, map[string]any{"handler": "main", "package": wantPkg}) {
		t.Errorf("package spec = %#v", got)
	}
	inline := Build("ns", s, "code").Object["spec"].(map[string]any)
	if _, ok := inline["package"]; ok || inline["code"] != "code" {
		t.Errorf("inline spec = %#v", inline)
	}
	_ = u.DeepCopy()
}

func TestDiffPackages(t *testing.T) {
	a, b := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	inline := &faasv1.Function{Spec: faasv1.FunctionSpec{Code: "x = 1\ndef handle(req):\n    return x\n"}}
	pkg := func(src, module string) *faasv1.Function {
		return &faasv1.Function{Spec: faasv1.FunctionSpec{Package: &faasv1.FunctionPackage{Source: src, Module: module}}}
	}
	for _, tc := range []struct {
		name          string
		before, after *faasv1.Function
		want          []Change
	}{
		{"inline to package", inline, pkg(a, "handler"), []Change{
			{"code", "removed: the function is a package now"},
			{"package", "source sha256:aaaaaaaaaaaa, module handler"},
		}},
		{"package to inline", pkg(a, "handler"), inline, []Change{
			{"code", "inline again: 3 lines"},
			{"package", "removed"},
		}},
		{"new source", pkg(a, "handler"), pkg(b, "handler"), []Change{{"package", "source sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb"}}},
		{"new module", pkg(a, "handler"), pkg(a, "app.main"), []Change{{"package", "module handler → app.main"}}},
		{"same package", pkg(a, "handler"), pkg(a, "handler"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Diff(tc.before, tc.after); !reflect.DeepEqual(got.Fields, tc.want) {
				t.Errorf("Diff = %+v, want %+v", got.Fields, tc.want)
			}
		})
	}
}

func TestOtherOwnersAndSwitchPatch(t *testing.T) {
	entry := func(manager string, op metav1.ManagedFieldsOperationType, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
	}
	fn := &faasv1.Function{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "42", ManagedFields: []metav1.ManagedFieldsEntry{
		entry("faas", metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:code":{},"f:handler":{}}}`),
		entry("kubectl", metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:code":{}}}`),
		entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:maxReplicas":{}}}`),
		entry("faas", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:package":{".":{},"f:source":{}}}}`),
		entry("operator", metav1.ManagedFieldsOperationUpdate, `{"f:status":{"f:package":{}}}`),
	}}}
	if got, want := OtherOwners(fn, FieldCode), []string{"kubectl (Apply)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("owners of code = %v, want %v", got, want)
	}
	if got, want := OtherOwners(fn, FieldPackage), []string{"faas (Update)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("owners of package = %v, want %v", got, want)
	}
	if got := OtherOwners(nil, FieldCode); got != nil {
		t.Errorf("owners of a Function to create = %v", got)
	}

	src := "sha256:" + strings.Repeat("a", 64)
	patch, err := SwitchPatch("42", BuildPackage("ns", project.Settings{Name: "f"}, src, "handler"), FieldCode)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"test","path":"/metadata/resourceVersion","value":"42"},{"op":"remove","path":"/spec/code"},` +
		`{"op":"add","path":"/spec/package","value":{"module":"handler","source":"` + src + `"}}]`
	if string(patch) != want {
		t.Errorf("patch = %s\nwant  %s", patch, want)
	}
	patch, err = SwitchPatch("7", Build("ns", project.Settings{Name: "f"}, "x = 1\n"), FieldPackage)
	if err != nil {
		t.Fatal(err)
	}
	want = `[{"op":"test","path":"/metadata/resourceVersion","value":"7"},{"op":"remove","path":"/spec/package"},` +
		`{"op":"add","path":"/spec/code","value":"x = 1\n"}]`
	if string(patch) != want {
		t.Errorf("patch = %s\nwant  %s", patch, want)
	}
}
