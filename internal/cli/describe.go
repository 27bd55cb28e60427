package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/cli/printers"
	"github.com/minifaas/minifaas/internal/resources"
)

// maxEvents is how many of the latest events describe shows.
const maxEvents = 20

func newDescribeCommand(a *app) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "describe <name>",
		Short: "Show a function: settings, conditions, pods, recent events, last load error",
		Long: `Show a function: its settings, its conditions with their messages, the pods
serving it (Deployment pods and pool pods the gateway handed it), recent
events of the function and its pods, and the last load error of its code.
-o json|yaml prints the Function itself.`,
		Args:              args(1, 1, "the function's name"),
		ValidArgsFunction: a.completeFunctions,
		RunE: func(c *cobra.Command, args []string) error {
			if err := printers.ValidateFormat(output, false); err != nil {
				return usageErrorf(c, "%v", err)
			}
			ctx := c.Context()
			fn, err := a.getFunction(ctx, a.namespace(), args[0], false)
			if err != nil {
				return err
			}
			if output != "" {
				return printers.WriteObject(a.env.Out, output, forOutput(fn))
			}
			d, err := a.describe(ctx, fn)
			if err != nil {
				return err
			}
			return d.write(a.env.Out, a.env.Now())
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: a description)")
	_ = c.RegisterFlagCompletionFunc("output", fixedCompletion(printers.Formats(false)...))
	return c
}

// description is what describe shows of a function.
type description struct {
	fn     *faasv1.Function
	pods   []corev1.Pod
	events []corev1.Event
}

func (a *app) describe(ctx context.Context, fn *faasv1.Function) (*description, error) {
	conn, err := a.connect()
	if err != nil {
		return nil, err
	}
	var pods corev1.PodList
	if err := conn.Client.List(ctx, &pods, client.InNamespace(fn.Namespace),
		client.MatchingLabels(resources.SelectorLabels(fn))); err != nil {
		return nil, fmt.Errorf("list pods of function %s: %w", fn.Name, err)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	var events corev1.EventList
	if err := conn.Client.List(ctx, &events, client.InNamespace(fn.Namespace)); err != nil {
		return nil, fmt.Errorf("list events in %s: %w", fn.Namespace, err)
	}
	return &description{fn: fn, pods: pods.Items, events: relatedEvents(fn, pods.Items, events.Items)}, nil
}

// relatedEvents are the latest events about the function, its pods and
// the Deployment and ReplicaSets made for it, oldest first.
func relatedEvents(fn *faasv1.Function, pods []corev1.Pod, events []corev1.Event) []corev1.Event {
	podNames := map[string]bool{}
	for _, p := range pods {
		podNames[p.Name] = true
	}
	deploy := resources.DeploymentName(fn)
	var out []corev1.Event
	for _, e := range events {
		o := e.InvolvedObject
		switch {
		case o.Kind == "Function" && o.Name == fn.Name,
			o.Kind == "Pod" && (podNames[o.Name] || strings.HasPrefix(o.Name, deploy+"-")),
			(o.Kind == "Deployment" || o.Kind == "ReplicaSet") && strings.HasPrefix(o.Name, deploy):
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return eventTime(&out[i]).Before(eventTime(&out[j])) })
	if len(out) > maxEvents {
		out = out[len(out)-maxEvents:]
	}
	return out
}
