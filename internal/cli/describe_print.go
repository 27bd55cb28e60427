package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/cli/fnspec"
	"github.com/minifaas/minifaas/internal/cli/printers"
	"github.com/minifaas/minifaas/internal/cli/readiness"
	"github.com/minifaas/minifaas/internal/resources"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// write prints the description, kubectl describe's way: fields, then
// sections with tables.
func (d *description) write(w io.Writer, now time.Time) error {
	fn := d.fn
	s := &fn.Spec
	tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
	field := func(name, value string) { fmt.Fprintf(tw, "%s:\t%s\n", name, value) }
	field("Name", fn.Name)
	field("Namespace", fn.Namespace)
	field("Status", statusOf(fn))
	field("URL", invokePath(fn.Name, fn.Namespace))
	field("Runtime", orDash(string(s.Runtime)))
	field("Handler", orDash(s.Handler))
	field("Code", codeSummary(fn))
	if p := s.Package; p != nil {
		field("Package", p.Source)
		field("Built", builtSummary(fn))
		field("Dependencies", dependenciesSummary(fn))
		field("Build", buildSummary(fn))
	}
	field("Replicas", fmt.Sprintf("%d desired, %d ready (min %d, max %d)",
		fn.Status.DesiredReplicas, fn.Status.ReadyReplicas, s.MinReplicas, s.MaxReplicas))
	field("Concurrency", fmt.Sprintf("%d calls per pod", s.Concurrency))
	field("Timeout", fmt.Sprintf("%ds per call; idle %ds before scaling back to min", s.TimeoutSeconds, s.IdleTimeoutSeconds))
	field("Env", envSummary(s.Env))
	field("Created", fmt.Sprintf("%s (%s ago)", fn.CreationTimestamp.UTC().Format(time.RFC3339), printers.Age(fn.CreationTimestamp, now)))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "Conditions:")
	conds := &printers.Table{Header: []string{"TYPE", "STATUS", "REASON", "AGE", "MESSAGE"}}
	for _, c := range fn.Status.Conditions {
		msg := c.Message
		if first, _, multi := strings.Cut(strings.TrimSpace(msg), "\n"); multi {
			msg = first + " …"
		}
		if c.ObservedGeneration < fn.Generation {
			msg += " (of an older generation)"
		}
		conds.Append(c.Type, string(c.Status), c.Reason, printers.Age(c.LastTransitionTime, now), msg)
	}
	if err := writeSection(w, conds); err != nil {
		return err
	}

	if fn.Spec.Package != nil {
		fmt.Fprintln(w, "Last build error:")
		fmt.Fprintf(w, "%s\n", indent(orNone(lastBuildError(fn)), "  "))
	}

	fmt.Fprintln(w, "Last load error:")
	fmt.Fprintf(w, "  %s\n", orNone(lastLoadError(fn, d.pods)))

	fmt.Fprintln(w, "Pods:")
	pods := &printers.Table{Header: []string{"NAME", "FROM", "READY", "STATUS", "RESTARTS", "AGE", "IP"}}
	for i := range d.pods {
		p := &d.pods[i]
		pods.Append(p.Name, podSource(p), readyColumn(p), podStatus(p), strconv.Itoa(restarts(p)),
			printers.Age(p.CreationTimestamp, now), orDash(p.Status.PodIP))
	}
	if err := writeSection(w, pods); err != nil {
		return err
	}

	fmt.Fprintln(w, "Events:")
	events := &printers.Table{Header: []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"}}
	for i := range d.events {
		e := &d.events[i]
		events.Append(printers.Age(metav1.NewTime(eventTime(e)), now), e.Type, e.Reason,
			strings.ToLower(e.InvolvedObject.Kind)+"/"+e.InvolvedObject.Name, strings.TrimSpace(e.Message))
	}
	return writeSection(w, events)
}

func writeSection(w io.Writer, t *printers.Table) error {
	if len(t.Rows) == 0 {
		_, err := fmt.Fprintln(w, "  <none>")
		return err
	}
	return t.WriteIndented(w, "  ")
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func codeSummary(fn *faasv1.Function) string {
	if p := fn.Spec.Package; p != nil {
		s := "a package, module " + orDash(p.Module)
		if hash := fn.Status.CodeHash; hash != "" {
			s += ", hash " + hash[:min(12, len(hash))]
		}
		return s
	}
	code := fn.Spec.Code
	n := strings.Count(code, "\n")
	if code != "" && !strings.HasSuffix(code, "\n") {
		n++
	}
	hash := fn.Status.CodeHash
	if len(hash) > 12 {
		hash = hash[:12]
	}
	s := fmt.Sprintf("%d lines, %d bytes", n, len(code))
	if hash != "" {
		s += ", hash " + hash
	}
	return s
}

// builtSummary is the artifact the runners load, and whether it is of the
// current source.
func builtSummary(fn *faasv1.Function) string {
	st := fn.Status.Package
	switch {
	case st == nil || st.Digest == "":
		return "<none>: not built yet"
	case st.Source != fn.Spec.Package.Source:
		return fmt.Sprintf("%s, of the previous source %s (it serves until the new one is built)", st.Digest, fnspec.ShortDigest(st.Source))
	}
	return st.Digest
}

// dependenciesSummary is the key of the installed dependencies, and their
// layer.
func dependenciesSummary(fn *faasv1.Function) string {
	st := fn.Status.Package
	switch {
	case st == nil || st.Digest == "":
		return "<none>"
	case st.Dependencies == "":
		return "none (no requirements.txt)"
	case st.DependenciesLayer != "":
		return fmt.Sprintf("%s (layer %s)", st.Dependencies, fnspec.ShortDigest(st.DependenciesLayer))
	}
	return st.Dependencies
}

// buildSummary is the PackageBuilt condition in one line.
func buildSummary(fn *faasv1.Function) string {
	c := meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionPackageBuilt)
	if c == nil {
		return "<none>: the operator has not seen the package yet"
	}
	s := fmt.Sprintf("%s, %s", c.Status, c.Reason)
	first, _, multi := strings.Cut(strings.TrimSpace(c.Message), "\n")
	if first = strings.TrimSuffix(first, ":"); first != "" {
		s += ": " + first
	}
	if multi {
		s += " (below)"
	}
	if c.ObservedGeneration < fn.Generation {
		s += " (of an older generation)"
	}
	return s
}

// lastBuildError is the message of a failed build, pip's output.
func lastBuildError(fn *faasv1.Function) string {
	c := meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionPackageBuilt)
	if c == nil || c.Status == metav1.ConditionTrue || (c.Reason != faasv1.ReasonBuildFailed && c.Reason != faasv1.ReasonPackageInvalid) {
		return ""
	}
	return strings.TrimSpace(c.Message)
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// envSummary lists the names only: values may be secrets.
func envSummary(env []corev1.EnvVar) string {
	if len(env) == 0 {
		return "<none>"
	}
	names := make([]string, 0, len(env))
	for _, e := range env {
		if e.ValueFrom != nil {
			names = append(names, e.Name+" (from a reference)")
			continue
		}
		names = append(names, e.Name)
	}
	return strings.Join(names, ", ")
}

// lastLoadError is the Ready condition's message while the code fails to
// load, else the latest load failure a pod still shows, with its pod.
func lastLoadError(fn *faasv1.Function, pods []corev1.Pod) string {
	for _, c := range fn.Status.Conditions {
		if c.Type == faasv1.ConditionReady && c.Reason == faasv1.ReasonLoadFailed {
			return c.Message
		}
	}
	var latest *corev1.ContainerStateTerminated
	var from string
	for i := range pods {
		for _, cs := range pods[i].Status.ContainerStatuses {
			for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
				if t != nil && t.ExitCode == runnerapi.LoadFailedExitCode && t.Message != "" &&
					(latest == nil || latest.FinishedAt.Before(&t.FinishedAt)) {
					latest, from = t, pods[i].Name
				}
			}
		}
	}
	if latest == nil {
		return ""
	}
	return fmt.Sprintf("%s (pod %s, %s)", strings.TrimSpace(latest.Message), from, latest.FinishedAt.UTC().Format(time.RFC3339))
}

// podSource tells where a function's pod came from.
func podSource(p *corev1.Pod) string {
	if p.Labels[resources.PoolStateLabel] == resources.PoolSpecialized {
		if pool := p.Labels[resources.PoolLabel]; pool != "" {
			return "pool " + pool
		}
		return "pool"
	}
	return "deployment"
}

func readyColumn(p *corev1.Pod) string {
	ready := 0
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers))
}

// podStatus is kubectl's STATUS column, roughly: Terminating, else the
// runner's waiting or termination reason (CrashLoopBackOff, Error), else
// the phase.
func podStatus(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name != readiness.RunnerContainer {
			continue
		}
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return w.Reason
		}
		if t := cs.State.Terminated; t != nil && t.Reason != "" {
			return t.Reason
		}
	}
	return string(p.Status.Phase)
}

func restarts(p *corev1.Pod) int {
	n := 0
	for _, cs := range p.Status.ContainerStatuses {
		n += int(cs.RestartCount)
	}
	return n
}

// eventTime is when an event last happened.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}
