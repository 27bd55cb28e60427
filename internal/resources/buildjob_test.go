package resources

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// TestBuildJobIsolatesPipFromPush: pip's step runs the requirements' code,
// so it shares with push only the work volume, whose deps folder push opens
// without following links, and never push's /tmp.
func TestBuildJobIsolatesPipFromPush(t *testing.T) {
	fn := &faasv1.Function{}
	fn.Namespace, fn.Name = "team", "fn"
	job := MakeBuildJob(fn, BuildParams{Namespace: "faas-system", Registry: "10.0.0.1:5000", PlainHTTP: true,
		Repository: "faas/team/fn", Source: "sha256:aa", Dependencies: "sha256:bb", PackageImage: "pkg", RuntimeImage: "py", DeadlineSeconds: 60})
	spec := job.Spec.Template.Spec
	containers := map[string]corev1.Container{}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		containers[c.Name] = c
	}
	pip, push := containers[BuildPipContainer], containers[BuildPushContainer]
	volumes := func(c corev1.Container) map[string]string {
		m := map[string]string{}
		for _, vm := range c.VolumeMounts {
			m[vm.Name] = vm.MountPath
		}
		return m
	}
	pipVolumes, pushVolumes := volumes(pip), volumes(push)
	var shared []string
	for name := range pipVolumes {
		if _, ok := pushVolumes[name]; ok {
			shared = append(shared, name)
		}
	}
	if !slices.Equal(shared, []string{"work"}) {
		t.Errorf("pip and push share volumes %v, want only work", shared)
	}
	if pipVolumes["tmp"] != "/tmp" || pushVolumes["push-tmp"] != "/tmp" {
		t.Errorf("/tmp: pip mounts %v, push %v; want each its own", pipVolumes, pushVolumes)
	}
	defined := map[string]bool{}
	for _, v := range spec.Volumes {
		defined[v.Name] = true
		if v.EmptyDir != nil && (v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.IsZero()) {
			t.Errorf("emptyDir %s has no size limit", v.Name)
		}
	}
	for name, c := range containers {
		for v := range volumes(c) {
			if !defined[v] {
				t.Errorf("container %s mounts undefined volume %s", name, v)
			}
		}
	}

	args := strings.Join(push.Args, " ")
	for _, want := range []string{"--work-dir /work", "--deps /work/deps", "--tmp-dir /tmp"} {
		if !strings.Contains(args, want) {
			t.Errorf("push args %q lack %q", args, want)
		}
	}
	script := strings.Join(pip.Command, " ")
	if !strings.Contains(script, "python3 -I -m compileall ") {
		t.Errorf("pip's script %q does not run compileall isolated", script)
	}
	env := map[string]string{}
	for _, e := range pip.Env {
		env[e.Name] = e.Value
	}
	if env["PYTHONNOUSERSITE"] != "1" || env["PYTHONUTF8"] != "1" {
		t.Errorf("pip's environment %v lacks PYTHONNOUSERSITE=1 or PYTHONUTF8=1", env)
	}
}
