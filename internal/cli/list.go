package cli

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/cli/printers"
)

func newListCommand(a *app) *cobra.Command {
	var output string
	var all bool
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List functions: replicas, status, age and the path to call them",
		Long: `List the functions of the namespace (-A: of every namespace): desired and
ready pods, the Ready condition's reason (ScaledToZero, Available,
Starting, LoadFailed, ReconcileFailed; Pending before the operator has
seen the latest change), age and the gateway path that calls each.
-o wide adds min, max and concurrency; -o json|yaml prints the Functions.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := printers.ValidateFormat(output, true); err != nil {
				return usageErrorf(c, "%v", err)
			}
			conn, err := a.connect()
			if err != nil {
				return err
			}
			opts := []client.ListOption{}
			ns := a.namespace()
			if !all {
				opts = append(opts, client.InNamespace(ns))
			}
			var list faasv1.FunctionList
			if err := conn.Client.List(c.Context(), &list, opts...); err != nil {
				return fmt.Errorf("list Functions: %w", err)
			}
			sort.Slice(list.Items, func(i, j int) bool {
				x, y := &list.Items[i], &list.Items[j]
				if x.Namespace != y.Namespace {
					return x.Namespace < y.Namespace
				}
				return x.Name < y.Name
			})
			switch output {
			case printers.FormatJSON, printers.FormatYAML:
				return printers.WriteObject(a.env.Out, output, forOutputList(&list))
			}
			if len(list.Items) == 0 {
				if all {
					fmt.Fprintln(a.env.ErrOut, "No functions found.")
				} else {
					fmt.Fprintf(a.env.ErrOut, "No functions in namespace %s.\n", ns)
				}
				return nil
			}
			return functionTable(list.Items, all, output == printers.FormatWide, a.env.Now()).Write(a.env.Out)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "output format: json, yaml or wide")
	c.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list the functions of every namespace")
	_ = c.RegisterFlagCompletionFunc("output", fixedCompletion(printers.Formats(true)...))
	return c
}

// functionTable is list's table.
func functionTable(fns []faasv1.Function, withNamespace, wide bool, now time.Time) *printers.Table {
	t := &printers.Table{}
	if withNamespace {
		t.Header = append(t.Header, "NAMESPACE")
	}
	t.Header = append(t.Header, "NAME", "RUNTIME", "DESIRED/READY", "STATUS", "AGE")
	if wide {
		t.Header = append(t.Header, "MIN", "MAX", "CONCURRENCY")
	}
	t.Header = append(t.Header, "URL")
	for i := range fns {
		fn := &fns[i]
		var row []string
		if withNamespace {
			row = append(row, fn.Namespace)
		}
		row = append(row, fn.Name, orDash(string(fn.Spec.Runtime)),
			fmt.Sprintf("%d/%d", fn.Status.DesiredReplicas, fn.Status.ReadyReplicas),
			statusOf(fn), printers.Age(fn.CreationTimestamp, now))
		if wide {
			row = append(row, strconv.Itoa(int(fn.Spec.MinReplicas)), strconv.Itoa(int(fn.Spec.MaxReplicas)),
				strconv.Itoa(int(fn.Spec.Concurrency)))
		}
		row = append(row, invokePath(fn.Name, fn.Namespace))
		t.Append(row...)
	}
	return t
}

// statusOf is the Ready condition's reason, or Pending while the operator
// has not seen the Function's latest generation.
func statusOf(fn *faasv1.Function) string {
	cond := meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionReady)
	if cond == nil || fn.Status.ObservedGeneration < fn.Generation {
		return "Pending"
	}
	return cond.Reason
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// forOutput prepares a Function for -o json|yaml as kubectl shows
// objects: with its kind, without managedFields.
func forOutput(fn *faasv1.Function) *faasv1.Function {
	c := fn.DeepCopy()
	c.APIVersion, c.Kind = faasv1.GroupVersion.String(), "Function"
	c.ManagedFields = nil
	return c
}

func forOutputList(list *faasv1.FunctionList) *faasv1.FunctionList {
	out := &faasv1.FunctionList{TypeMeta: metav1.TypeMeta{APIVersion: faasv1.GroupVersion.String(), Kind: "FunctionList"}}
	out.ResourceVersion = list.ResourceVersion
	out.Items = make([]faasv1.Function, 0, len(list.Items))
	for i := range list.Items {
		out.Items = append(out.Items, *forOutput(&list.Items[i]))
	}
	return out
}
