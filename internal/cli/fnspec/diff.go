package fnspec

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// Change is one spec field an apply changed, in words.
type Change struct {
	// Field is the spec field's name, e.g. "maxReplicas".
	Field string
	// Detail says how, e.g. "5 → 3" or "added FOO; removed BAR".
	Detail string
}

// Changes is what an apply did to a Function's spec.
type Changes struct {
	Created bool
	Fields  []Change
}

// Verb is "created", "updated" or "unchanged".
func (c Changes) Verb() string {
	switch {
	case c.Created:
		return "created"
	case len(c.Fields) > 0:
		return "updated"
	default:
		return "unchanged"
	}
}

// String lists the changes one per line, the field names aligned.
func (c Changes) String() string {
	width := 0
	for _, f := range c.Fields {
		width = max(width, len(f.Field))
	}
	var b strings.Builder
	for _, f := range c.Fields {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, f.Field, f.Detail)
	}
	return b.String()
}

// Diff compares the spec of a Function before an apply (nil if it did not
// exist) with the one after. spec.replicas is not compared: the gateway
// and autoscalers own it.
func Diff(before, after *faasv1.Function) Changes {
	if before == nil {
		return Changes{Created: true}
	}
	o, n := &before.Spec, &after.Spec
	var fields []Change
	add := func(field, detail string) { fields = append(fields, Change{Field: field, Detail: detail}) }
	switch {
	case o.Code != "" && n.Code == "" && n.Package != nil:
		add("code", "removed: the function is a package now")
	case o.Code == "" && n.Code != "" && o.Package != nil:
		add("code", fmt.Sprintf("inline again: %s", lines(strings.Count(strings.TrimSuffix(n.Code, "\n"), "\n")+1)))
	case o.Code != n.Code:
		add("code", codeDetail(o.Code, n.Code))
	}
	if d := packageDetail(o.Package, n.Package); d != "" {
		add("package", d)
	}
	if o.Runtime != n.Runtime {
		add("runtime", fmt.Sprintf("%s → %s", orNone(string(o.Runtime)), orNone(string(n.Runtime))))
	}
	if o.Handler != n.Handler {
		add("handler", fmt.Sprintf("%s → %s", orNone(o.Handler), orNone(n.Handler)))
	}
	if d := envDetail(o.Env, n.Env); d != "" {
		add("env", d)
	}
	ints := []struct {
		field string
		o, n  int32
	}{
		{"minReplicas", o.MinReplicas, n.MinReplicas},
		{"maxReplicas", o.MaxReplicas, n.MaxReplicas},
		{"concurrency", o.Concurrency, n.Concurrency},
		{"timeoutSeconds", o.TimeoutSeconds, n.TimeoutSeconds},
		{"idleTimeoutSeconds", o.IdleTimeoutSeconds, n.IdleTimeoutSeconds},
	}
	for _, f := range ints {
		if f.o != f.n {
			add(f.field, fmt.Sprintf("%d → %d", f.o, f.n))
		}
	}
	if !equality.Semantic.DeepEqual(rest(o), rest(n)) {
		add("other", "fields faas does not set changed (kubectl get fn -o yaml shows them)")
	}
	return Changes{Fields: fields}
}

// rest is the spec without the fields Diff names and without replicas.
func rest(s *faasv1.FunctionSpec) faasv1.FunctionSpec {
	c := *s.DeepCopy()
	c.Code, c.Package, c.Runtime, c.Handler, c.Env, c.Replicas = "", nil, "", "", nil, nil
	c.MinReplicas, c.MaxReplicas, c.Concurrency, c.TimeoutSeconds, c.IdleTimeoutSeconds = 0, 0, 0, 0, 0
	return c
}

// packageDetail says how spec.package changed: its source by the digest's
// first 12 hex digits, its module.
func packageDetail(before, after *faasv1.FunctionPackage) string {
	switch {
	case before == nil && after == nil:
		return ""
	case before == nil:
		return fmt.Sprintf("source %s, module %s", ShortDigest(after.Source), orNone(after.Module))
	case after == nil:
		return "removed"
	}
	var parts []string
	if before.Source != after.Source {
		parts = append(parts, fmt.Sprintf("source %s → %s", ShortDigest(before.Source), ShortDigest(after.Source)))
	}
	if before.Module != after.Module {
		parts = append(parts, fmt.Sprintf("module %s → %s", orNone(before.Module), orNone(after.Module)))
	}
	return strings.Join(parts, "; ")
}

// ShortDigest is a digest as "sha256:" and its first 12 hex digits.
func ShortDigest(d string) string {
	if algo, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return d
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// codeDetail counts lines added and removed, as a multiset of lines: cheap
// on code of any size, and exact for the usual edit.
func codeDetail(before, after string) string {
	count := map[string]int{}
	for _, l := range strings.Split(before, "\n") {
		count[l]++
	}
	added := 0
	for _, l := range strings.Split(after, "\n") {
		if count[l] > 0 {
			count[l]--
		} else {
			added++
		}
	}
	removed := 0
	for _, n := range count {
		removed += n
	}
	return fmt.Sprintf("changed: %s added, %s removed", lines(added), lines(removed))
}

func lines(n int) string {
	if n == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", n)
}

// envDetail names the variables added, changed and removed; never their
// values, which may be secrets.
func envDetail(before, after []corev1.EnvVar) string {
	old := map[string]corev1.EnvVar{}
	for _, e := range before {
		old[e.Name] = e
	}
	var added, changed, removed []string
	seen := map[string]bool{}
	for _, e := range after {
		seen[e.Name] = true
		o, ok := old[e.Name]
		switch {
		case !ok:
			added = append(added, e.Name)
		case !equality.Semantic.DeepEqual(o, e):
			changed = append(changed, e.Name)
		}
	}
	for _, e := range before {
		if !seen[e.Name] {
			removed = append(removed, e.Name)
		}
	}
	var parts []string
	for _, p := range []struct {
		verb  string
		names []string
	}{{"added", added}, {"changed", changed}, {"removed", removed}} {
		if len(p.names) > 0 {
			parts = append(parts, p.verb+" "+strings.Join(p.names, ", "))
		}
	}
	return strings.Join(parts, "; ")
}
