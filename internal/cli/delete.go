package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

func newDeleteCommand(a *app) *cobra.Command {
	var wait, ignoreNotFound bool
	var waitTimeout time.Duration
	c := &cobra.Command{
		Use:   "delete <name>...",
		Short: "Delete functions and wait until their objects and pods are gone",
		Long: `Delete functions. With --wait (the default) faas waits until everything made
for each is gone: Deployment fn-<name>-deploy, Service fn-<name>, ConfigMap
fn-<name>-code and every pod that served it.`,
		Args:              args(1, -1, "the name of a function"),
		ValidArgsFunction: a.completeFunctions,
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			ns := a.namespace()
			for _, name := range args {
				if err := a.delete(ctx, ns, name, ignoreNotFound); err != nil {
					return err
				}
			}
			if !wait {
				return nil
			}
			wctx, cancel := context.WithTimeout(ctx, waitTimeout)
			defer cancel()
			for _, name := range args {
				if err := a.waitGone(wctx, ns, name, waitTimeout); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fs := c.Flags()
	fs.BoolVar(&wait, "wait", true, "wait until the function's objects and pods are gone")
	fs.DurationVar(&waitTimeout, "wait-timeout", 2*time.Minute, "how long --wait waits before exiting 7")
	fs.BoolVar(&ignoreNotFound, "ignore-not-found", false, "a function that does not exist is not an error")
	return c
}

func (a *app) delete(ctx context.Context, ns, name string, ignoreNotFound bool) error {
	conn, err := a.connect()
	if err != nil {
		return err
	}
	fn := &faasv1.Function{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	err = conn.Client.Delete(ctx, fn, client.PropagationPolicy(metav1.DeletePropagationBackground))
	switch {
	case apierrors.IsNotFound(err) && ignoreNotFound:
		return nil
	case apierrors.IsNotFound(err):
		return notFound(ns, name)
	case err != nil:
		return fmt.Errorf("delete Function %s/%s: %w", ns, name, err)
	}
	fmt.Fprintf(a.env.Out, "function %s in %s: deleted\n", name, ns)
	return nil
}

// waitGone polls until the Function and everything made for it is gone,
// printing what is left whenever that changes.
func (a *app) waitGone(ctx context.Context, ns, name string, timeout time.Duration) error {
	last := ""
	for {
		left, err := a.leftOf(ctx, ns, name)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return codeErrorf(ExitTimeout, "function %s: still there after %s: %s", name, timeout, last)
			}
			return err
		}
		if len(left) == 0 {
			fmt.Fprintf(a.env.Out, "function %s in %s: gone, with its objects and pods\n", name, ns)
			return nil
		}
		if s := strings.Join(left, ", "); s != last {
			last = s
			fmt.Fprintf(a.env.ErrOut, "  waiting for %s to go\n", s)
		}
		if err := a.sleep(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return codeErrorf(ExitTimeout, "function %s: still there after %s: %s", name, timeout, last)
			}
			return err
		}
	}
}

// leftOf lists what remains of a deleted function.
func (a *app) leftOf(ctx context.Context, ns, name string) ([]string, error) {
	conn, err := a.connect()
	if err != nil {
		return nil, err
	}
	c := conn.Client
	fn := &faasv1.Function{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	var left []string
	objs := []struct {
		what string
		obj  client.Object
		name string
	}{
		{"Function " + name, &faasv1.Function{}, name},
		{"Deployment " + resources.DeploymentName(fn), &appsv1.Deployment{}, resources.DeploymentName(fn)},
		{"Service " + resources.ServiceName(fn), &corev1.Service{}, resources.ServiceName(fn)},
		{"ConfigMap " + resources.ConfigMapName(fn), &corev1.ConfigMap{}, resources.ConfigMapName(fn)},
	}
	for _, o := range objs {
		found, err := getIfExists(ctx, c, ns, o.name, o.obj)
		if err != nil {
			return nil, err
		}
		if found {
			left = append(left, o.what)
		}
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(resources.SelectorLabels(fn))); err != nil {
		return nil, fmt.Errorf("list pods of function %s: %w", name, err)
	}
	switch n := len(pods.Items); n {
	case 0:
	case 1:
		left = append(left, "pod "+pods.Items[0].Name)
	default:
		left = append(left, fmt.Sprintf("%d pods", n))
	}
	return left, nil
}
