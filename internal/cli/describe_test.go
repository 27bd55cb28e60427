package cli

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

func TestDescribe(t *testing.T) {
	fn := readyFunction("default", "hello", code1, faasv1.ReasonLoadFailed,
		"the function's code failed to load: SyntaxError: expected ':' (function.py, line 3)")
	fn.Spec.Env = []corev1.EnvVar{{Name: "GREETING", Value: "secret-ish"}}
	fn.Status.CodeHash = "0123456789abcdef"
	created := metav1.NewTime(testNow.Add(-60e9))
	deployPod := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "fn-hello-deploy-abc-1", CreationTimestamp: created,
			Labels: map[string]string{resources.FunctionLabel: "hello"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "runner"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", ContainerStatuses: []corev1.ContainerStatus{{
			Name: "runner", RestartCount: 2,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		}}},
	}
	poolPod := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "pool-python-xyz", CreationTimestamp: created,
			Labels: map[string]string{resources.FunctionLabel: "hello", resources.PoolStateLabel: resources.PoolSpecialized, resources.PoolLabel: "python"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "runner"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.2",
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "runner", Ready: true}}},
	}
	otherPod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "unrelated",
		Labels: map[string]string{resources.FunctionLabel: "other"}}}
	event := func(kind, name, reason, msg string) *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Namespace: "default", Name: name + "." + reason},
			InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name},
			Type:           corev1.EventTypeWarning, Reason: reason, Message: msg, LastTimestamp: metav1.NewTime(testNow.Add(-5e9)),
		}
	}
	h := newHarness(t, withObjects(fn, &deployPod, &poolPod, &otherPod,
		event("Pod", "fn-hello-deploy-abc-1", "BackOff", "Back-off restarting failed container"),
		event("Function", "hello", "ReconcileFailed", "something"),
		event("Pod", "unrelated", "Ignored", "not about hello"),
	))
	out := h.mustRun("describe", "hello")
	for _, want := range []string{
		"Name:        hello\n",
		"Status:      LoadFailed\n",
		"URL:         /invoke/hello\n",
		"Code:        2 lines, 34 bytes, hash 0123456789ab\n",
		"Env:         GREETING\n",
		"Ready   False    LoadFailed   <unknown>   the function's code failed to load: SyntaxError: expected ':' (function.py, line 3)",
		"Last load error:\n  the function's code failed to load: SyntaxError",
		"fn-hello-deploy-abc-1   deployment    0/1     CrashLoopBackOff   2          60s   10.0.0.1",
		"pool-python-xyz         pool python   1/1     Running            0          60s   10.0.0.2",
		"5s          Warning   BackOff           pod/fn-hello-deploy-abc-1   Back-off restarting failed container",
		"function/hello",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"secret-ish", "unrelated", "not about hello"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("describe shows %q:\n%s", unwanted, out)
		}
	}
	if code := h.run("describe", "nope"); code != ExitNotFound {
		t.Errorf("describe nope: exit %d", code)
	}
	if out := h.mustRun("describe", "hello", "-o", "yaml"); !strings.Contains(out, "kind: Function\n") {
		t.Errorf("describe -o yaml:\n%s", out)
	}
}

func TestLastLoadErrorFromAPod(t *testing.T) {
	fn := readyFunction("default", "hello", code1, faasv1.ReasonAvailable, "")
	finished := metav1.NewTime(testNow)
	pods := []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "p1"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		Name: "runner",
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 3, Message: "handler 'handle' is not defined in function.py\n", FinishedAt: finished}},
	}, {
		Name:                 "other",
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Message: "OOMKilled"}},
	}}}}}
	got := lastLoadError(fn, pods)
	want := "handler 'handle' is not defined in function.py (pod p1, 2026-05-01T12:00:00Z)"
	if got != want {
		t.Errorf("lastLoadError = %q, want %q", got, want)
	}
}

func TestDescribePackage(t *testing.T) {
	src, old := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("0", 64)
	built, deps, layer := "sha256:"+strings.Repeat("b", 64), "sha256:"+strings.Repeat("d", 64), "sha256:"+strings.Repeat("e", 64)
	pip := "pip install failed:\nERROR: No matching distribution found for nosuch==1.0"
	fn := readyFunction("default", "hello", "", faasv1.ReasonAvailable, "1 pod ready")
	fn.Spec.Package = &faasv1.FunctionPackage{Source: src, Module: "app.main"}
	fn.Status.Package = &faasv1.PackageStatus{Source: old, Digest: built, Dependencies: deps, DependenciesLayer: layer}
	fn.Status.Conditions = append(fn.Status.Conditions, metav1.Condition{Type: faasv1.ConditionPackageBuilt,
		Status: metav1.ConditionFalse, Reason: faasv1.ReasonBuildFailed, Message: pip, ObservedGeneration: 1})
	h := newHarness(t, withObjects(fn))
	out := h.mustRun("describe", "hello")
	for _, want := range []string{
		"Code:         a package, module app.main\n",
		"Package:      " + src + "\n",
		"Built:        " + built + ", of the previous source sha256:000000000000 (it serves until the new one is built)\n",
		"Dependencies: " + deps + " (layer sha256:eeeeeeeeeeee)\n",
		"Build:        False, BuildFailed: pip install failed (below)\n",
		"PackageBuilt   False    BuildFailed   <unknown>   pip install failed: …\n",
		"Last build error:\n  pip install failed:\n  ERROR: No matching distribution found for nosuch==1.0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}

	// Built, without requirements.
	fn.Status.Package = &faasv1.PackageStatus{Source: src, Digest: built}
	fn.Status.Conditions[1] = metav1.Condition{Type: faasv1.ConditionPackageBuilt, Status: metav1.ConditionTrue,
		Reason: faasv1.ReasonBuilt, Message: "built as " + built, ObservedGeneration: 1}
	h = newHarness(t, withObjects(fn))
	out = h.mustRun("describe", "hello")
	for _, want := range []string{
		"Built:        " + built + "\n",
		"Dependencies: none (no requirements.txt)\n",
		"Build:        True, Built: built as " + built + "\n",
		"Last build error:\n  <none>\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
}
