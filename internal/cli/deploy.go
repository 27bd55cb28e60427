package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/cli/fnspec"
	"github.com/minifaas/minifaas/internal/cli/project"
)

// deployFlags are deploy's flags; the settings ones override faas.yaml.
type deployFlags struct {
	name, runtime, handler string
	env                    []string
	min, max, concurrency  int32
	timeout, idle          project.Seconds
	wait, noWait           bool
	waitTimeout            time.Duration
}

func newDeployCommand(a *app) *cobra.Command {
	var f deployFlags
	c := &cobra.Command{
		Use:   "deploy [<folder>|<file.py>]",
		Short: "Create or update a function from a folder or a file, and wait until it is ready",
		Long: `Create or update a function from a folder (its handler.py and faas.yaml) or
a single .py file, with server-side apply (field manager "faas"), and show
what changed. With --wait (the default) it then waits until the function
is ready to serve its new spec: a ready pod with the new code, or scaled
to zero with its objects in place. Code that fails to load is shown with
its file and line, and deploy exits 5.

faas.yaml holds name, runtime, handler, file, env, min, max, concurrency,
timeout and idle; the flags override it for this deploy. faas applies only
the settings given, so one an earlier deploy set and this one does not goes
back to the platform's default. Without a name in faas.yaml, the name is
the folder's or the file's (lower-cased, '_' and '.' as '-').`,
		Example: `  faas deploy                           # the function in this folder
  faas deploy hello --env GREETING=hi --max 3
  faas deploy resize.py --name resize --min 1 --timeout 2m
  faas deploy hello --env OLD-           # drop OLD from faas.yaml's env`,
		Args: args(0, 1, "a folder or a .py file"),
		RunE: func(c *cobra.Command, args []string) error {
			path := "."
			if len(args) == 1 {
				path = args[0]
			}
			return a.deploy(c, path, &f)
		},
	}
	fs := c.Flags()
	fs.StringVar(&f.name, "name", "", "the function's name (default: faas.yaml's, else the folder's or file's name)")
	fs.StringVar(&f.runtime, "runtime", "", "the runtime of the code (default python)")
	fs.StringVar(&f.handler, "handler", "", "the function in the code that answers calls (default handle)")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable, K=V (repeatable); K- removes one faas.yaml sets")
	fs.Int32Var(&f.min, "min", 0, "pods kept while idle; 0 scales to zero (default 0)")
	fs.Int32Var(&f.max, "max", 0, "most pods (default 5)")
	fs.Int32Var(&f.concurrency, "concurrency", 0, "calls one pod serves at once (default 10)")
	fs.Var(&f.timeout, "timeout", "a call running longer is answered 504: seconds or a duration like 2m (default 30)")
	fs.Var(&f.idle, "idle", "no call for this long scales back to --min: seconds or a duration (default 60)")
	fs.BoolVar(&f.wait, "wait", true, "wait until the function is ready to serve")
	fs.BoolVar(&f.noWait, "no-wait", false, "do not wait (same as --wait=false)")
	fs.DurationVar(&f.waitTimeout, "wait-timeout", 3*time.Minute, "how long --wait waits before exiting 7")
	_ = c.RegisterFlagCompletionFunc("runtime", fixedCompletion(string(faasv1.RuntimePython)))
	return c
}

// overrides are the settings the flags set.
func (f *deployFlags) overrides(fs *pflag.FlagSet) (project.Settings, []string, error) {
	s := project.Settings{Name: f.name, Runtime: f.runtime, Handler: f.handler}
	var unset []string
	for _, kv := range f.env {
		switch k, v, ok := strings.Cut(kv, "="); {
		case ok && k != "":
			if s.Env == nil {
				s.Env = map[string]string{}
			}
			s.Env[k] = v
		case !ok && strings.HasSuffix(kv, "-") && len(kv) > 1:
			unset = append(unset, strings.TrimSuffix(kv, "-"))
		default:
			return s, nil, fmt.Errorf("--env %q: want K=V, or K- to remove K", kv)
		}
	}
	ints := []struct {
		flag string
		v    int32
		dst  **int32
	}{{"min", f.min, &s.Min}, {"max", f.max, &s.Max}, {"concurrency", f.concurrency, &s.Concurrency}}
	for _, i := range ints {
		if fs.Changed(i.flag) {
			v := i.v
			*i.dst = &v
		}
	}
	if fs.Changed("timeout") {
		t := f.timeout
		s.Timeout = &t
	}
	if fs.Changed("idle") {
		t := f.idle
		s.Idle = &t
	}
	return s, unset, nil
}

func (a *app) deploy(c *cobra.Command, path string, f *deployFlags) error {
	if c.Flags().Changed("wait") && c.Flags().Changed("no-wait") {
		return usageErrorf(c, "--wait and --no-wait contradict each other")
	}
	wait := f.wait && !f.noWait
	over, unset, err := f.overrides(c.Flags())
	if err != nil {
		return usageErrorf(c, "%v", err)
	}
	p, err := project.Load(path)
	if err != nil {
		return err
	}
	p.Settings = p.Settings.Override(over, unset)
	if err := p.Settings.Validate(); err != nil {
		return err
	}
	conn, err := a.connect()
	if err != nil {
		return err
	}
	ctx := c.Context()
	ns := a.namespace()
	before, err := a.getFunction(ctx, ns, p.Settings.Name, true)
	if err != nil {
		return err
	}
	u := fnspec.Build(ns, p.Settings, string(p.Entry().Content))
	if err := conn.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(fnspec.FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply Function %s/%s: %w", ns, p.Settings.Name, err)
	}
	var after faasv1.Function
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &after); err != nil {
		return fmt.Errorf("read the applied Function: %w", err)
	}
	changes := fnspec.Diff(before, &after)
	fmt.Fprintf(a.env.Out, "function %s in %s: %s (from %s)\n", after.Name, ns, changes.Verb(), p.Entry().Path)
	fmt.Fprint(a.env.Out, changes.String())
	if !wait {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.waitTimeout)
	defer cancel()
	return a.waitReady(ctx, &after, p.Entry(), f.waitTimeout)
}

// getFunction reads a Function; a missing one is nil with allowMissing,
// else an ExitNotFound error.
func (a *app) getFunction(ctx context.Context, ns, name string, allowMissing bool) (*faasv1.Function, error) {
	conn, err := a.connect()
	if err != nil {
		return nil, err
	}
	var fn faasv1.Function
	err = conn.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &fn)
	switch {
	case apierrors.IsNotFound(err) && allowMissing:
		return nil, nil
	case apierrors.IsNotFound(err):
		return nil, notFound(ns, name)
	case err != nil:
		return nil, fmt.Errorf("get Function %s/%s: %w", ns, name, err)
	}
	return &fn, nil
}

func notFound(ns, name string) error {
	return codeErrorf(ExitNotFound, "no function %q in namespace %q (faas list -n %s shows the functions there)", name, ns, ns)
}
