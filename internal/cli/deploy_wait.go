package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/cli/project"
	"github.com/minifaas/minifaas/internal/cli/readiness"
	"github.com/minifaas/minifaas/internal/resources"
)

// operatorHint is how long a Function may wait for the operator before
// deploy asks whether it runs.
const operatorHint = 10 * time.Second

// waitReady polls the Function and its objects until readiness says it is
// ready or failed, printing each new state on ErrOut. ctx bounds it.
func (a *app) waitReady(ctx context.Context, applied *faasv1.Function, entry project.Source, timeout time.Duration) error {
	key := client.ObjectKeyFromObject(applied)
	var last readiness.Status
	// A crash-looping pod cycles through the same few states: each is
	// shown once.
	shown := map[readiness.Status]bool{}
	start, hinted := time.Now(), false
	for {
		st, err := a.readinessOf(ctx, key, applied.Generation)
		switch {
		case errors.Is(err, context.DeadlineExceeded) || (err == nil && ctx.Err() != nil):
			return codeErrorf(ExitTimeout, "function %s not ready after %s: %s: %s", key.Name, timeout, last.Reason, last.Message)
		case err != nil:
			return err
		}
		st.Message = localizeLoadError(st.Message, entry)
		last = st
		if st.State == readiness.Waiting && !shown[st] {
			shown[st] = true
			fmt.Fprintf(a.env.ErrOut, "  %s: %s\n", st.Reason, st.Message)
		}
		if st.Reason == readiness.Pending && !hinted && time.Since(start) > operatorHint {
			hinted = true
			fmt.Fprintf(a.env.ErrOut, "  (no word from the operator after %s: is it running? kubectl -n faas-system get deploy faas-operator)\n", operatorHint)
		}
		switch st.State {
		case readiness.Ready:
			fmt.Fprintf(a.env.Out, "ready: %s\ncall it: faas invoke %s%s   (gateway path %s)\n",
				st.Message, key.Name, nsFlag(key.Namespace), invokePath(key.Name, key.Namespace))
			return nil
		case readiness.Failed:
			msg := st.Message
			if excerpt := sourceExcerpt(msg, entry); excerpt != "" {
				fmt.Fprint(a.env.ErrOut, excerpt)
			}
			return codeErrorf(ExitFailed, "%s", msg)
		}
		if err := a.sleep(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				continue // reported with the last state above
			}
			return err
		}
	}
}

// waitPackage polls the Function until the operator has built the package
// deploy pushed, printing its progress on ErrOut; a failed build prints
// the condition's message (pip's output) and ends with ExitBuildFailed.
// ctx bounds it.
func (a *app) waitPackage(ctx context.Context, applied *faasv1.Function, pkg *localPackage, timeout time.Duration) error {
	key := client.ObjectKeyFromObject(applied)
	source := applied.Spec.Package.Source
	conn, err := a.connect()
	if err != nil {
		return err
	}
	var last readiness.Status
	start, hinted := time.Now(), false
	for {
		var fn faasv1.Function
		err := conn.Client.Get(ctx, key, &fn)
		switch {
		case errors.Is(err, context.DeadlineExceeded) || (err == nil && ctx.Err() != nil):
			return codeErrorf(ExitTimeout, "the package of function %s is not built after %s: %s: %s (--wait-timeout waits longer)",
				key.Name, timeout, last.Reason, last.Message)
		case apierrors.IsNotFound(err):
			return codeErrorf(ExitNotFound, "function %s was deleted while waiting for it", key.Name)
		case err != nil:
			return fmt.Errorf("get Function %s: %w", key, err)
		}
		st := readiness.EvaluatePackage(&fn, source)
		if st != last && st.State == readiness.Waiting {
			fmt.Fprintf(a.env.ErrOut, "  %s: %s\n", st.Reason, st.Message)
		}
		last = st
		if st.Reason == readiness.Pending && !hinted && time.Since(start) > operatorHint {
			hinted = true
			fmt.Fprintf(a.env.ErrOut, "  (no word from the operator after %s: is it running? kubectl -n faas-system get deploy faas-operator)\n", operatorHint)
		}
		switch st.State {
		case readiness.Ready:
			fmt.Fprintf(a.env.Out, "package %s\n", st.Message)
			return nil
		case readiness.Failed:
			return buildFailed(a, key.Name, pkg, st)
		}
		if err := a.sleep(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				continue // reported with the last state above
			}
			return err
		}
	}
}

// buildFailed prints a failed build's message, pip's output, as it is,
// and returns the one-line error of ExitBuildFailed.
func buildFailed(a *app, name string, pkg *localPackage, st readiness.Status) error {
	msg := strings.TrimRight(st.Message, "\n")
	first, _, multi := strings.Cut(msg, "\n")
	first = strings.TrimSuffix(strings.TrimSpace(first), ":")
	if multi {
		fmt.Fprintln(a.env.ErrOut, msg)
		first += " (output above)"
	}
	if st.Reason == faasv1.ReasonPackageInvalid {
		return codeErrorf(ExitBuildFailed, "the package of function %s was refused (%s): %s", name, st.Reason, first)
	}
	fix := ""
	if strings.HasPrefix(first, "pip") {
		fix = fmt.Sprintf("; fix %s and deploy again", filepath.Join(pkg.dir, project.RequirementsFile))
	}
	return codeErrorf(ExitBuildFailed, "the package of function %s failed to build (%s): %s%s", name, st.Reason, first, fix)
}

// readinessOf reads the Function and the objects made for it.
func (a *app) readinessOf(ctx context.Context, key client.ObjectKey, generation int64) (readiness.Status, error) {
	conn, err := a.connect()
	if err != nil {
		return readiness.Status{}, err
	}
	c := conn.Client
	var fn faasv1.Function
	if err := c.Get(ctx, key, &fn); err != nil {
		if apierrors.IsNotFound(err) {
			return readiness.Status{}, codeErrorf(ExitNotFound, "function %s was deleted while waiting for it", key.Name)
		}
		return readiness.Status{}, fmt.Errorf("get Function %s: %w", key, err)
	}
	var objs readiness.Objects
	var dep appsv1.Deployment
	if found, err := getIfExists(ctx, c, key.Namespace, resources.DeploymentName(&fn), &dep); err != nil {
		return readiness.Status{}, err
	} else if found {
		objs.Deployment = &dep
	}
	var err2 error
	if objs.Service, err2 = getIfExists(ctx, c, key.Namespace, resources.ServiceName(&fn), &corev1.Service{}); err2 != nil {
		return readiness.Status{}, err2
	}
	if objs.ConfigMap, err2 = getIfExists(ctx, c, key.Namespace, resources.ConfigMapName(&fn), &corev1.ConfigMap{}); err2 != nil {
		return readiness.Status{}, err2
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(key.Namespace), client.MatchingLabels(resources.SelectorLabels(&fn))); err != nil {
		return readiness.Status{}, fmt.Errorf("list pods of function %s: %w", key, err)
	}
	objs.Pods = pods.Items
	return readiness.Evaluate(&fn, objs), nil
}

func getIfExists(ctx context.Context, c client.Client, ns, name string, obj client.Object) (bool, error) {
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("get %T %s/%s: %w", obj, ns, name, err)
	}
	return true, nil
}

// localizeLoadError names the user's file instead of the name the code
// has in the pod (function.py).
func localizeLoadError(msg string, entry project.Source) string {
	if entry.Path == "" {
		return msg
	}
	return strings.ReplaceAll(msg, resources.CodeFile, entry.Path)
}

var lineRef = regexp.MustCompile(`, line (\d+)\)`)

// sourceExcerpt shows the line a load error points at, from the local
// file: "  hello/handler.py, line 3:\n    def handle(req)\n".
func sourceExcerpt(msg string, entry project.Source) string {
	m := lineRef.FindStringSubmatch(msg)
	if m == nil || len(entry.Content) == 0 {
		return ""
	}
	n, err := strconv.Atoi(m[1])
	lines := strings.Split(string(entry.Content), "\n")
	if err != nil || n < 1 || n > len(lines) {
		return ""
	}
	return fmt.Sprintf("%s, line %d:\n    %s\n", entry.Path, n, strings.TrimRight(lines[n-1], "\r"))
}
