package controller

import (
	"encoding/json"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/resources"
)

// buildState is where a build Job is.
type buildState int

const (
	buildRunning buildState = iota
	buildSucceeded
	buildFailed
)

// maxBuildMessage bounds the pip output kept in a condition's message.
const maxBuildMessage = 4000

// buildOutcome reads a build Job and its pods: running; succeeded with the
// push step's result; or failed with the message of the step that failed
// (pip's own output for a failed install). retry is true when the failure
// was the platform's, not the requirements': the fetch or push step, or
// the pod gone.
func buildOutcome(job *batchv1.Job, pods []corev1.Pod) (state buildState, res packagebuild.Result, msg string, retry bool) {
	var failed, complete *batchv1.JobCondition
	for i := range job.Status.Conditions {
		c := &job.Status.Conditions[i]
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobFailed:
			failed = c
		case batchv1.JobComplete:
			complete = c
		}
	}
	switch {
	case complete != nil:
		for i := range pods {
			for _, cs := range pods[i].Status.ContainerStatuses {
				t := cs.State.Terminated
				if cs.Name != resources.BuildPushContainer || t == nil || t.ExitCode != 0 {
					continue
				}
				if err := json.Unmarshal([]byte(strings.TrimSpace(t.Message)), &res); err != nil || res.Digest == "" || res.DepsLayer == "" {
					return buildFailed, packagebuild.Result{}, fmt.Sprintf("the build's push step reported %q", truncate(t.Message, 200)), true
				}
				return buildSucceeded, res, "", false
			}
		}
		return buildFailed, res, "the build completed but its pod, which holds the result, is gone", true
	case failed != nil:
		if step, code, msg := failedStep(pods); msg != "" {
			// pip's failures, and a requirements.txt the fetch step
			// refused, are the author's to fix.
			author := step == resources.BuildPipContainer ||
				(step == resources.BuildFetchContainer && code == packagebuild.ExitInvalidRequirements)
			return buildFailed, res, msg, !author
		}
		return buildFailed, res, fmt.Sprintf("the build failed: %s: %s", failed.Reason, failed.Message), failed.Reason != "DeadlineExceeded"
	}
	return buildRunning, res, "", false
}

// failedStep is the container name, exit code and message of the first
// build step that ended in error.
func failedStep(pods []corev1.Pod) (string, int32, string) {
	steps := map[string]string{
		resources.BuildFetchContainer: "fetching the source failed",
		resources.BuildPipContainer:   "pip install failed",
		resources.BuildPushContainer:  "pushing the built package failed",
	}
	for i := range pods {
		st := pods[i].Status
		for _, cs := range append(append([]corev1.ContainerStatus{}, st.InitContainerStatuses...), st.ContainerStatuses...) {
			t := cs.State.Terminated
			if t == nil || t.ExitCode == 0 {
				continue
			}
			what := steps[cs.Name]
			if what == "" {
				what = cs.Name + " failed"
			}
			msg := strings.TrimSpace(t.Message)
			if msg == "" {
				msg = fmt.Sprintf("exit code %d (%s)", t.ExitCode, t.Reason)
			}
			return cs.Name, t.ExitCode, what + ":\n" + truncate(msg, maxBuildMessage)
		}
	}
	return "", 0, ""
}

// truncate keeps the end of s, where pip says what went wrong.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
