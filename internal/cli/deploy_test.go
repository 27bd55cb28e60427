package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// writeFolder makes a function folder with the given files.
func writeFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "greeter")
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const code1 = "def handle(req):\n    return 'one'\n"
const code2 = "def handle(req):\n    return 'two'\n"

func (h *harness) function(ns, name string) *faasv1.Function {
	h.t.Helper()
	var fn faasv1.Function
	if err := h.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &fn); err != nil {
		h.t.Fatalf("get Function %s/%s: %v", ns, name, err)
	}
	return &fn
}

func TestDeployCreatesThenShowsWhatChanged(t *testing.T) {
	h := newHarness(t)
	dir := writeFolder(t, map[string]string{
		"handler.py": code1,
		"faas.yaml":  "env:\n  A: \"1\"\n  PORT: 8080\nmax: 3\ntimeout: 1m\n",
	})
	out := h.mustRun("deploy", dir, "--no-wait", "--env", "B=2")
	if !strings.Contains(out, "function greeter in default: created") {
		t.Errorf("deploy output:\n%s", out)
	}
	fn := h.function("default", "greeter")
	s := fn.Spec
	if s.Code != code1 || s.MaxReplicas != 3 || s.TimeoutSeconds != 60 || s.MinReplicas != 0 || s.Concurrency != 0 {
		t.Errorf("spec = %+v", s)
	}
	wantEnv := []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}, {Name: "PORT", Value: "8080"}}
	if len(s.Env) != 3 || s.Env[0] != wantEnv[0] || s.Env[1] != wantEnv[1] || s.Env[2] != wantEnv[2] {
		t.Errorf("env = %+v, want %+v", s.Env, wantEnv)
	}

	// New code, env A dropped by flag, max from faas.yaml overridden.
	if err := os.WriteFile(filepath.Join(dir, "handler.py"), []byte(code2), 0o644); err != nil {
		t.Fatal(err)
	}
	out = h.mustRun("deploy", dir, "--no-wait", "--env", "A-", "--env", "B=3", "--max", "4")
	for _, want := range []string{
		"function greeter in default: updated",
		"code         changed: 1 line added, 1 line removed",
		"env          changed B; removed A",
		"maxReplicas  3 → 4",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}

	out = h.mustRun("deploy", dir, "--no-wait", "--env", "A-", "--env", "B=3", "--max", "4")
	if !strings.Contains(out, ": unchanged") {
		t.Errorf("a second identical deploy:\n%s", out)
	}
}

func TestDeploySingleFile(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "resize_image.py")
	if err := os.WriteFile(file, []byte(code1), 0o644); err != nil {
		t.Fatal(err)
	}
	h.mustRun("deploy", file, "--no-wait", "-n", "media", "--min", "1", "--idle", "90")
	fn := h.function("media", "resize-image")
	if fn.Spec.MinReplicas != 1 || fn.Spec.IdleTimeoutSeconds != 90 || fn.Spec.Code != code1 {
		t.Errorf("spec = %+v", fn.Spec)
	}
}

// readyFunction is a Function the operator has acted on, with reason.
func readyFunction(ns, name, code, reason, message string) *faasv1.Function {
	fn := &faasv1.Function{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1, CreationTimestamp: metav1.NewTime(testNow.Add(-90e9))},
		Spec:       faasv1.FunctionSpec{Code: code, Runtime: faasv1.RuntimePython, MaxReplicas: 5, Concurrency: 10},
		Status: faasv1.FunctionStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{{
			Type: faasv1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: message, ObservedGeneration: 1,
		}}},
	}
	if reason == faasv1.ReasonScaledToZero || reason == faasv1.ReasonAvailable {
		fn.Status.Conditions[0].Status = metav1.ConditionTrue
	}
	return fn
}

func TestDeployWaitsUntilScaledToZeroWithItsObjects(t *testing.T) {
	fn := readyFunction("default", "greeter", code1, faasv1.ReasonScaledToZero, "scaled to zero; the next call starts a pod")
	h := newHarness(t, withObjects(fn,
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "fn-greeter-deploy"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "fn-greeter"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "fn-greeter-code"}},
	))
	dir := writeFolder(t, map[string]string{"handler.py": code1})
	out := h.mustRun("deploy", dir)
	if !strings.Contains(out, "ready: scaled to zero") || !strings.Contains(out, "faas invoke greeter") {
		t.Errorf("deploy --wait output:\n%s\nstderr:\n%s", out, h.err)
	}
}

func TestDeployShowsTheLoadErrorWithFileAndLine(t *testing.T) {
	bad := "import os\n\ndef handle(req)\n    return 1\n"
	fn := readyFunction("default", "greeter", bad, faasv1.ReasonLoadFailed,
		"the function's code failed to load: SyntaxError: expected ':' (function.py, line 3)")
	h := newHarness(t, withObjects(fn))
	dir := writeFolder(t, map[string]string{"handler.py": bad})
	if code := h.run("deploy", dir); code != ExitFailed {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitFailed, h.out, h.err)
	}
	handler := filepath.Join(dir, "handler.py")
	for _, want := range []string{
		handler + ", line 3:\n    def handle(req)\n",
		"error: the function's code failed to load: SyntaxError: expected ':' (" + handler + ", line 3)",
	} {
		if !strings.Contains(h.err.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, h.err)
		}
	}
}

func TestDeployTimesOut(t *testing.T) {
	fn := readyFunction("default", "greeter", code1, faasv1.ReasonStarting, "waiting for 1 pod(s) to become ready")
	h := newHarness(t, withObjects(fn))
	dir := writeFolder(t, map[string]string{"handler.py": code1})
	if code := h.run("deploy", dir, "--wait-timeout", "20ms"); code != ExitTimeout {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitTimeout, h.out, h.err)
	}
	if !strings.Contains(h.err.String(), "Starting: waiting for 1 pod(s) to become ready") {
		t.Errorf("stderr:\n%s", h.err)
	}
}

func TestDeployPassesTheAPIServersFieldMessage(t *testing.T) {
	invalid := apierrors.NewInvalid(schema.GroupKind{Group: "faas.example.com", Kind: "Function"}, "greeter", field.ErrorList{
		field.Invalid(field.NewPath("spec", "minReplicas"), 3, "spec.minReplicas must not be greater than spec.maxReplicas"),
	})
	h := newHarness(t, withInterceptor(interceptor.Funcs{
		Apply: func(context.Context, client.WithWatch, runtime.ApplyConfiguration, ...client.ApplyOption) error {
			return invalid
		},
	}))
	dir := writeFolder(t, map[string]string{"handler.py": code1})
	if code := h.run("deploy", dir, "--min", "3", "--max", "2"); code != ExitUsage {
		t.Fatalf("exit %d, want %d\n%s", code, ExitUsage, h.err)
	}
	want := "error: invalid settings: spec.minReplicas: Invalid value: 3: spec.minReplicas must not be greater than spec.maxReplicas\n"
	if h.err.String() != want {
		t.Errorf("stderr = %q, want %q", h.err, want)
	}
}

func TestDeployUsageErrors(t *testing.T) {
	dir := writeFolder(t, map[string]string{"handler.py": code1})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad env", []string{"deploy", dir, "--env", "NOVALUE"}, `--env "NOVALUE": want K=V`},
		{"bad seconds", []string{"deploy", dir, "--timeout", "soon"}, `invalid argument "soon" for "--timeout"`},
		{"bad int", []string{"deploy", dir, "--max", "many"}, `invalid argument "many" for "--max"`},
		{"wait and no-wait", []string{"deploy", dir, "--wait", "--no-wait"}, "contradict"},
		{"two paths", []string{"deploy", dir, dir}, "too many arguments"},
		{"missing folder", []string{"deploy", filepath.Join(dir, "nope")}, "does not exist"},
		{"bad name", []string{"deploy", dir, "--name", "Bad_Name"}, "lower-case letters"},
		{"faas.yaml typo", []string{"deploy", writeFolder(t, map[string]string{"handler.py": code1, "faas.yaml": "mx: 3\n"})}, `unknown field "mx"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if code := h.run(tc.args...); code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr %s", code, ExitUsage, h.err)
			}
			if !strings.Contains(h.err.String(), tc.want) || strings.Count(h.err.String(), "\n") != 1 {
				t.Errorf("stderr = %q, want one line with %q", h.err, tc.want)
			}
		})
	}
}
