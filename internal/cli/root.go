package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

const rootLong = `faas deploys, calls and watches minifaas functions: Python handlers served
over HTTP, scaled from zero on demand, on any Kubernetes cluster with the
minifaas platform installed.

It talks to the cluster like kubectl (--kubeconfig, --context, -n) and to
functions through the gateway: --gateway URL, else $FAAS_GATEWAY, else a
port-forward it opens to svc/faas-gateway in faas-system. A folder with a
requirements.txt or more than its handler file deploys as a package,
pushed the same way to the platform's registry (svc/faas-registry, or
--registry URL, $FAAS_REGISTRY) and built in the cluster.

A day with faas:
  faas init hello                      # a folder: handler.py, its test, faas.yaml
  (cd hello && python3 -m unittest)    # test it, no cluster needed
  faas deploy hello                    # create or update, wait until ready
  faas invoke hello -d '{"name": "Ada"}'
  faas logs hello -f
  faas list
  faas describe hello
  faas delete hello

` + exitCodesHelp

// NewRootCommand builds the faas command tree.
func NewRootCommand(env *Env) *cobra.Command {
	a := &app{env: env}
	root := &cobra.Command{
		Use:           "faas",
		Short:         "Deploy, call and watch minifaas functions",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(env.In)
	root.SetOut(env.Out)
	root.SetErr(env.ErrOut)
	a.flags.AddFlags(root.PersistentFlags())
	_ = root.RegisterFlagCompletionFunc("namespace", a.completeNamespaces)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf(c, "%v", err)
	})
	root.AddCommand(
		newInitCommand(a),
		newDeployCommand(a),
		newInvokeCommand(a),
		newListCommand(a),
		newDescribeCommand(a),
		newLogsCommand(a),
		newDeleteCommand(a),
		newVersionCommand(a),
	)
	return root
}

// Main runs the faas command with args and returns its exit code; the
// error, if any, is printed as one line on env.ErrOut.
func Main(ctx context.Context, args []string, env *Env) int {
	root := NewRootCommand(env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if strings.HasPrefix(err.Error(), "unknown command") {
		err = withCode(ExitUsage, fmt.Errorf("%v (see 'faas --help')", strings.SplitN(err.Error(), "\n", 2)[0]))
	}
	code, msg := explain(err)
	fmt.Fprintln(env.ErrOut, "error: "+msg)
	return code
}

// usageErrorf is a usage error of command c, pointing at its help.
func usageErrorf(c *cobra.Command, format string, args ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format+" (see '%s --help')", append(args, c.CommandPath())...))
}

// args checks a command's positional arguments, as a usage error.
func args(min, max int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, a []string) error {
		switch {
		case len(a) < min:
			return usageErrorf(c, "%s is missing", what)
		case max >= 0 && len(a) > max:
			return usageErrorf(c, "too many arguments: %s takes %s", c.Name(), what)
		}
		return nil
	}
}
