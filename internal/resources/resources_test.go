package resources

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

func testFunction(mut ...func(*faasv1.Function)) *faasv1.Function {
	fn := &faasv1.Function{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "ns"},
		Spec: faasv1.FunctionSpec{
			Runtime: faasv1.RuntimePython, Code: "def handle(req):\n    return 'hi'\n", Handler: "handle",
			MinReplicas: 0, MaxReplicas: 3, TimeoutSeconds: 30, Concurrency: 10, IdleTimeoutSeconds: 60,
		},
	}
	for _, m := range mut {
		m(fn)
	}
	return fn
}

func TestDesiredReplicas(t *testing.T) {
	cases := []struct {
		name     string
		min, max int32
		replicas *int32
		want     int32
	}{
		{"unset means min", 0, 3, nil, 0},
		{"unset means min (1)", 1, 3, nil, 1},
		{"within bounds", 0, 3, ptr.To[int32](2), 2},
		{"above max is clamped", 0, 3, ptr.To[int32](9), 3},
		{"below min is clamped", 2, 3, ptr.To[int32](0), 2},
		{"max below min keeps min", 2, 1, ptr.To[int32](5), 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn := testFunction(func(f *faasv1.Function) {
				f.Spec.MinReplicas, f.Spec.MaxReplicas, f.Spec.Replicas = tc.min, tc.max, tc.replicas
			})
			if got := DesiredReplicas(fn); got != tc.want {
				t.Errorf("DesiredReplicas() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestCodeHash(t *testing.T) {
	base := CodeHash(testFunction())
	cases := []struct {
		name    string
		mut     func(*faasv1.Function)
		changes bool
	}{
		{"same spec", func(*faasv1.Function) {}, false},
		{"replicas do not roll pods", func(f *faasv1.Function) { f.Spec.Replicas = ptr.To[int32](2) }, false},
		{"code", func(f *faasv1.Function) { f.Spec.Code += "#" }, true},
		{"handler", func(f *faasv1.Function) { f.Spec.Handler = "main" }, true},
		{"no ambiguity across fields", func(f *faasv1.Function) {
			f.Spec.Handler, f.Spec.Code = "handl", "e"+f.Spec.Code
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := CodeHash(testFunction(tc.mut)); (got != base) != tc.changes {
				t.Errorf("CodeHash changed = %v, want %v", got != base, tc.changes)
			}
		})
	}
}

func TestMakeDeployment(t *testing.T) {
	fn := testFunction(func(f *faasv1.Function) {
		f.Spec.Env = []corev1.EnvVar{{Name: "GREETING", Value: "hi"}}
	})
	dep := MakeDeployment(fn, "runner:1", 2)

	if dep.Name != "fn-hello-deploy" || dep.Namespace != "ns" {
		t.Errorf("name = %s/%s, want ns/fn-hello-deploy", dep.Namespace, dep.Name)
	}
	if *dep.Spec.Replicas != 2 {
		t.Errorf("replicas = %d, want 2", *dep.Spec.Replicas)
	}
	if got := dep.Spec.Selector.MatchLabels[FunctionLabel]; got != "hello" {
		t.Errorf("selector %s = %q, want hello", FunctionLabel, got)
	}
	tmpl := dep.Spec.Template
	if tmpl.Labels[FunctionLabel] != "hello" {
		t.Errorf("pod label %s missing", FunctionLabel)
	}
	if tmpl.Annotations[CodeHashAnnotation] != CodeHash(fn) {
		t.Errorf("pod template lacks the code hash")
	}
	if dep.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("a rollout must never take a serving pod away first")
	}

	spec := tmpl.Spec
	c := spec.Containers[0]
	checks := map[string]bool{
		"image":                        c.Image == "runner:1",
		"pull policy IfNotPresent":     c.ImagePullPolicy == corev1.PullIfNotPresent,
		"no service account token":     spec.AutomountServiceAccountToken != nil && !*spec.AutomountServiceAccountToken,
		"non-root":                     *spec.SecurityContext.RunAsNonRoot && *spec.SecurityContext.RunAsUser != 0,
		"seccomp RuntimeDefault":       spec.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
		"read-only root":               *c.SecurityContext.ReadOnlyRootFilesystem,
		"no privilege escalation":      !*c.SecurityContext.AllowPrivilegeEscalation,
		"all capabilities dropped":     len(c.SecurityContext.Capabilities.Drop) == 1 && c.SecurityContext.Capabilities.Drop[0] == "ALL",
		"readiness on the runner":      c.ReadinessProbe.HTTPGet.Path == runnerapi.ReadyPath && c.ReadinessProbe.HTTPGet.Port.StrVal == "admin",
		"runtime class passed on":      spec.RuntimeClassName == fn.Spec.RuntimeClassName,
		"termination message on error": c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError,
		"code mounted read-only":       c.VolumeMounts[0].MountPath == CodeDir && c.VolumeMounts[0].ReadOnly,
		"code from the ConfigMap":      spec.Volumes[0].ConfigMap.Name == "fn-hello-code",
		"grace covers the timeout":     *spec.TerminationGracePeriodSeconds > int64(fn.Spec.TimeoutSeconds),
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("pod spec: %s does not hold", what)
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	for k, v := range map[string]string{
		"FAAS_HANDLER": "handle", "FAAS_CODE_PATH": "/var/faas/code/function.py",
		"FAAS_TIMEOUT_SECONDS": "30", "FAAS_CONCURRENCY": "10", "GREETING": "hi",
	} {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
}

func TestMakeConfigMapAndService(t *testing.T) {
	fn := testFunction()
	cm := MakeConfigMap(fn)
	if cm.Name != "fn-hello-code" || cm.Data[CodeFile] != fn.Spec.Code {
		t.Errorf("ConfigMap %s does not carry the code under %s", cm.Name, CodeFile)
	}
	svc := MakeService(fn)
	if svc.Name != "fn-hello" || svc.Spec.Selector[FunctionLabel] != "hello" || svc.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("Service = %+v, want fn-hello selecting the function's pods on port http", svc)
	}
	for _, labels := range []map[string]string{cm.Labels, svc.Labels} {
		if labels[FunctionLabel] != "hello" || labels[ManagedByLabel] != ManagedBy {
			t.Errorf("labels = %v, want function and managed-by labels", labels)
		}
	}
}

func TestNamesFitDNSLabels(t *testing.T) {
	name := make([]byte, faasv1.MaxNameLength)
	for i := range name {
		name[i] = 'a'
	}
	fn := testFunction(func(f *faasv1.Function) { f.Name = string(name) })
	for _, n := range []string{DeploymentName(fn), ServiceName(fn), ConfigMapName(fn)} {
		if len(n) > 63 {
			t.Errorf("%s is %d characters, more than a DNS label allows", n, len(n))
		}
	}
}

func TestMakePoolPod(t *testing.T) {
	pool := &faasv1.RuntimePool{
		ObjectMeta: metav1.ObjectMeta{Name: "python", Namespace: "ns"},
		Spec:       faasv1.RuntimePoolSpec{Runtime: faasv1.RuntimePython, Size: ptr.To[int32](2)},
	}
	pod := MakePoolPod(pool, "pool-python-abcde", "runner:1", "cafe")
	if pod.Labels[PoolLabel] != "python" || pod.Labels[PoolStateLabel] != PoolIdle || pod.Labels[RuntimeLabel] != "python" {
		t.Errorf("labels = %v", pod.Labels)
	}
	if _, ok := pod.Labels[FunctionLabel]; ok {
		t.Error("an idle pool pod belongs to no function")
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Error("a pool pod must never restart into an empty runner")
	}
	env := map[string]string{}
	for _, e := range pod.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["FAAS_MODE"] != "pool" || env["FAAS_SPECIALIZE_TOKEN_SHA256"] != "cafe" {
		t.Errorf("env = %v", env)
	}
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil {
			t.Errorf("a pool pod mounts no code, got volume %s", v.Name)
		}
	}
	c := pod.Spec.Containers[0]
	if !*c.SecurityContext.ReadOnlyRootFilesystem || *pod.Spec.AutomountServiceAccountToken || !*pod.Spec.SecurityContext.RunAsNonRoot {
		t.Error("pool pods are as locked down as function pods")
	}
}
