package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/minifaas/minifaas/internal/cli/podlogs"
	"github.com/minifaas/minifaas/internal/cli/readiness"
	"github.com/minifaas/minifaas/internal/resources"
)

func newLogsCommand(a *app) *cobra.Command {
	var follow bool
	var since time.Duration
	var tail int64
	c := &cobra.Command{
		Use:   "logs <name>",
		Short: "Print the logs of every pod serving a function, each line prefixed with its pod",
		Long: `Print the logs of every pod serving a function — its Deployment's pods and
pool pods the gateway handed it — each line prefixed with [pod name].
With -f it keeps following as pods come and go: a pod that starts later
(scale-out, a call after scale to zero, a restart) is followed from its
first line, and a deleted pod's stream ends. Ctrl-C stops it (exit 0).`,
		Example: `  faas logs hello
  faas logs hello -f
  faas logs hello --since 10m --tail 100`,
		Args:              args(1, 1, "the function's name"),
		ValidArgsFunction: a.completeFunctions,
		RunE: func(c *cobra.Command, args []string) error {
			if since < 0 {
				return usageErrorf(c, "--since must not be negative")
			}
			ctx := c.Context()
			ns := a.namespace()
			fn, err := a.getFunction(ctx, ns, args[0], false)
			if err != nil {
				return err
			}
			conn, err := a.connect()
			if err != nil {
				return err
			}
			opts := podlogs.Options{Container: readiness.RunnerContainer, Since: since, Tail: tail}
			selector := resources.SelectorLabels(fn)
			if follow {
				opts.Following = func() {
					fmt.Fprintf(a.env.ErrOut, "following the pods of function %s as they come and go (Ctrl-C stops)\n", fn.Name)
				}
				return podlogs.Follow(ctx, conn.Clientset, ns, labels.SelectorFromSet(selector).String(), opts, a.env.Out, a.env.ErrOut)
			}
			var pods corev1.PodList
			if err := conn.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(selector)); err != nil {
				return fmt.Errorf("list pods of function %s: %w", fn.Name, err)
			}
			if len(pods.Items) == 0 {
				fmt.Fprintf(a.env.ErrOut, "function %s has no pods now (scaled to zero?); faas logs %s -f waits for them\n", fn.Name, fn.Name)
				return nil
			}
			return podlogs.Print(ctx, conn.Clientset, pods.Items, opts, a.env.Out, a.env.ErrOut)
		},
	}
	fs := c.Flags()
	fs.BoolVarP(&follow, "follow", "f", false, "keep following, as pods come and go")
	fs.DurationVar(&since, "since", 0, "only lines newer than this, like 10m (default: all)")
	fs.Int64Var(&tail, "tail", -1, "only the last N lines of each pod (default: all)")
	return c
}
