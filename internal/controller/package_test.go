package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"oras.land/oras-go/v2/errdef"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/resources"
)

func TestUserErrorsAreWhatTheUserMustFix(t *testing.T) {
	for _, c := range []struct {
		err  error
		user bool
	}{
		{fmt.Errorf("x: %w", packages.ErrInvalidArtifact), true},
		{fmt.Errorf("x: %w", errdef.ErrNotFound), true},
		{fmt.Errorf("x: %w", packagebuild.ErrMissingBlob), true},
		{digest.Digest("sha256:zz").Validate(), true},
		{errors.New("connection refused"), false},
		{context.DeadlineExceeded, false},
	} {
		if got := errors.Is(userError(c.err), errInvalidPackage); got != c.user {
			t.Errorf("userError(%v) is the user's: %v, want %v", c.err, got, c.user)
		}
	}
}

func TestDependencyKeyChangesWithEachInput(t *testing.T) {
	req := digest.FromString("requests==2")
	base := dependencyKey(req, "python:1", map[string][]byte{"PIP_INDEX_URL": []byte("http://a")})
	if base != dependencyKey(req, "python:1", map[string][]byte{"PIP_INDEX_URL": []byte("http://a")}) {
		t.Fatal("the key is not stable")
	}
	for name, other := range map[string]string{
		"requirements": dependencyKey(digest.FromString("requests==3"), "python:1", map[string][]byte{"PIP_INDEX_URL": []byte("http://a")}),
		"image":        dependencyKey(req, "python:2", map[string][]byte{"PIP_INDEX_URL": []byte("http://a")}),
		"pip settings": dependencyKey(req, "python:1", map[string][]byte{"PIP_INDEX_URL": []byte("http://b")}),
		"no settings":  dependencyKey(req, "python:1", nil),
	} {
		if other == base {
			t.Errorf("a change of %s keeps the key", name)
		}
	}
}

func terminated(name string, code int32, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Message: msg}}}
}

func jobWith(t batchv1.JobConditionType) *batchv1.Job {
	j := &batchv1.Job{}
	if t != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: t, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded", Message: "too slow"}}
	}
	return j
}

func TestBuildOutcome(t *testing.T) {
	okPod := corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
		terminated(resources.BuildPushContainer, 0, `{"digest":"sha256:aa","depsLayer":"sha256:bb"}`+"\n")}}}
	pipFailed := corev1.Pod{Status: corev1.PodStatus{InitContainerStatuses: []corev1.ContainerStatus{
		terminated(resources.BuildFetchContainer, 0, ""),
		terminated(resources.BuildPipContainer, 1, "ERROR: No matching distribution found for nosuchdep==1.0")}}}
	cases := []struct {
		name    string
		job     *batchv1.Job
		pods    []corev1.Pod
		state   buildState
		digest  string
		message string
		retry   bool
	}{
		{"running", jobWith(""), nil, buildRunning, "", "", false},
		{"succeeded", jobWith(batchv1.JobComplete), []corev1.Pod{okPod}, buildSucceeded, "sha256:aa", "", false},
		{"succeeded, pod gone", jobWith(batchv1.JobComplete), nil, buildFailed, "", "is gone", true},
		{"pip failed", jobWith(batchv1.JobFailed), []corev1.Pod{pipFailed}, buildFailed, "", "pip install failed:\nERROR: No matching distribution found for nosuchdep==1.0", false},
		{"fetch failed", jobWith(batchv1.JobFailed), []corev1.Pod{{Status: corev1.PodStatus{InitContainerStatuses: []corev1.ContainerStatus{
			terminated(resources.BuildFetchContainer, 1, "connection refused")}}}}, buildFailed, "", "fetching the source failed", true},
		{"requirements refused", jobWith(batchv1.JobFailed), []corev1.Pod{{Status: corev1.PodStatus{InitContainerStatuses: []corev1.ContainerStatus{
			terminated(resources.BuildFetchContainer, packagebuild.ExitInvalidRequirements, "requirements.txt line 1: pip options are not allowed")}}}}, buildFailed, "", "line 1", false},
		{"deadline", jobWith(batchv1.JobFailed), nil, buildFailed, "", "DeadlineExceeded: too slow", false},
		{"garbled result", jobWith(batchv1.JobComplete), []corev1.Pod{{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			terminated(resources.BuildPushContainer, 0, "not json")}}}}, buildFailed, "", "reported", true},
	}
	for _, c := range cases {
		state, res, msg, retry := buildOutcome(c.job, c.pods)
		if state != c.state || res.Digest != c.digest || !strings.Contains(msg, c.message) || retry != c.retry {
			t.Errorf("%s: %v %+v %q retry %v", c.name, state, res, msg, retry)
		}
	}
}

func TestSwitchPackageKeepsTheLastReplacedArtifact(t *testing.T) {
	st := &faasv1.PackageStatus{}
	switchPackage(st, "sha256:s1", "sha256:b1", "k", "sha256:d")
	if len(st.Previous) != 0 || st.Digest != "sha256:b1" {
		t.Fatalf("first build: %+v", st)
	}
	switchPackage(st, "sha256:s2", "sha256:b2", "k", "sha256:d")
	if want := []string{"sha256:s1", "sha256:b1"}; strings.Join(st.Previous, ",") != strings.Join(want, ",") {
		t.Fatalf("second: previous %v, want %v", st.Previous, want)
	}
	// Back to the first source: it is current again, never collected.
	switchPackage(st, "sha256:s1", "sha256:b1", "k", "sha256:d")
	for _, d := range st.Previous {
		if d == "sha256:s1" || d == "sha256:b1" {
			t.Errorf("the current artifact %s is listed as previous: %v", d, st.Previous)
		}
	}
	for range 20 {
		switchPackage(st, "sha256:s"+randomSuffix(), "sha256:b"+randomSuffix(), "k", "sha256:d")
	}
	if len(st.Previous) > maxPrevious {
		t.Errorf("previous grew to %d", len(st.Previous))
	}
}

func TestBuildJobGivesCredentialsOnlyToTheTrustedSteps(t *testing.T) {
	fn := &faasv1.Function{}
	fn.Namespace, fn.Name = "team", "fn"
	job := resources.MakeBuildJob(fn, resources.BuildParams{Namespace: "faas-system", Registry: "10.0.0.1:5000",
		Repository: "faas/team/fn", Source: "sha256:aa", Dependencies: "sha256:bb", PackageImage: "pkg", RuntimeImage: "py", DeadlineSeconds: 60})
	spec := job.Spec.Template.Spec
	if *spec.AutomountServiceAccountToken || !*spec.SecurityContext.RunAsNonRoot || *job.Spec.BackoffLimit != 0 {
		t.Errorf("pod spec not locked down: %+v", spec)
	}
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		hasCreds := false
		for _, m := range c.VolumeMounts {
			hasCreds = hasCreds || m.Name == "credentials"
		}
		if want := c.Name != resources.BuildPipContainer; hasCreds != want {
			t.Errorf("container %s has the registry credentials: %v, want %v", c.Name, hasCreds, want)
		}
		if !*c.SecurityContext.ReadOnlyRootFilesystem || *c.SecurityContext.AllowPrivilegeEscalation {
			t.Errorf("container %s not locked down", c.Name)
		}
		if c.Name == resources.BuildPipContainer && c.Image != "py" {
			t.Errorf("pip runs in %s, not the function's runner image", c.Image)
		}
	}
}
