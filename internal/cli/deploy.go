package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/cli/fnspec"
	"github.com/minifaas/minifaas/internal/cli/project"
)

// deployFlags are deploy's flags; the settings ones override faas.yaml.
type deployFlags struct {
	name, runtime, handler, module string
	env                            []string
	min, max, concurrency          int32
	timeout, idle                  project.Seconds
	pkg                            bool
	registry                       registryFlags
	wait, noWait                   bool
	waitTimeout                    time.Duration
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

A folder with just its handler file (and faas.yaml, a README, tests) is
deployed as inline code in the Function. A folder with a requirements.txt,
other modules, data files or subfolders, or a handler file over 768 KiB,
is deployed as a package (python only; --package forces it): faas packs
the folder, without faas.yaml, runner/, .git, .venv, node_modules,
__pycache__ and *.pyc, up to 100 MiB, pushes it to the platform's
registry (a port-forward to svc/faas-registry in faas-system, with the
credentials of the Secret faas-packages there; --registry URL or
$FAAS_REGISTRY to reach it otherwise, --registry-service or
$FAAS_REGISTRY_SERVICE for another Service), and sets spec.package to its
digest. The operator installs requirements.txt in the cluster; --wait
shows the build, and a failed build prints pip's output and exits 8.

faas.yaml holds name, runtime, handler, file, module, env, min, max,
concurrency, timeout and idle; the flags override it for this deploy.
module is a package's handler module (default handler; app.main is
app/main.py). faas applies only the settings given, so one an earlier
deploy set and this one does not goes back to the platform's default.
Without a name in faas.yaml, the name is the folder's or the file's
(lower-cased, '_' and '.' as '-').`,
		Example: `  faas deploy                           # the function in this folder
  faas deploy hello --env GREETING=hi --max 3
  faas deploy resize.py --name resize --min 1 --timeout 2m
  faas deploy hello --env OLD-           # drop OLD from faas.yaml's env
  faas deploy scraper                    # has requirements.txt: a package, built in the cluster
  faas deploy api --package --module app.main --wait-timeout 10m`,
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
	fs.BoolVar(&f.pkg, "package", false, "deploy the folder as a package even if it could be inline code")
	fs.StringVar(&f.module, "module", "", "a package's handler module, e.g. app.main for app/main.py (default: the handler file's, handler)")
	fs.StringVar(&f.registry.url, "registry", "", "the package registry's URL, instead of a port-forward (default $"+RegistryEnv+")")
	fs.StringVar(&f.registry.service, "registry-service", "", "the package registry's Service as namespace/name (default $"+RegistryServiceEnv+", else "+registryNamespace+"/"+registryService+")")
	fs.BoolVar(&f.wait, "wait", true, "wait until the function is ready to serve")
	fs.BoolVar(&f.noWait, "no-wait", false, "do not wait (same as --wait=false)")
	fs.DurationVar(&f.waitTimeout, "wait-timeout", 3*time.Minute, "how long --wait waits before exiting 7")
	_ = c.RegisterFlagCompletionFunc("runtime", fixedCompletion(string(faasv1.RuntimePython)))
	return c
}

// overrides are the settings the flags set.
func (f *deployFlags) overrides(fs *pflag.FlagSet) (project.Settings, []string, error) {
	s := project.Settings{Name: f.name, Runtime: f.runtime, Handler: f.handler, Module: f.module}
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
	if p.Single && (f.pkg || f.module != "") {
		return usageErrorf(c, "--package and --module deploy a folder: put %s in a folder and deploy the folder", path)
	}
	p.Settings = p.Settings.Override(over, unset)
	if err := p.Settings.Validate(); err != nil {
		return err
	}
	// A package is packed before the cluster is touched: a folder that
	// cannot be one, or is too large, fails before anything is sent.
	var pkg *localPackage
	if !p.Single {
		if pkg, err = preparePackage(p, f.pkg); err != nil {
			return err
		}
	}
	if pkg != nil {
		defer pkg.source.Close()
	}
	conn, err := a.connect()
	if err != nil {
		return err
	}
	ctx := c.Context()
	ns := a.namespace()
	name := p.Settings.Name
	before, err := a.getFunction(ctx, ns, name, true)
	if err != nil {
		return err
	}
	var u *unstructured.Unstructured
	from := p.Entry().Path
	if pkg != nil {
		digest, err := a.pushPackage(ctx, ns, name, pkg, f.registry)
		if err != nil {
			return err
		}
		u = fnspec.BuildPackage(ns, p.Settings, digest, pkg.module)
		from = fmt.Sprintf("package %s of %s", fnspec.ShortDigest(digest), p.Dir)
	} else {
		u = fnspec.Build(ns, p.Settings, string(p.Entry().Content))
	}
	if err := a.switchCode(ctx, conn.Client, before, u, pkg != nil); err != nil {
		return err
	}
	if err := conn.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(fnspec.FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply Function %s/%s: %w", ns, name, err)
	}
	var after faasv1.Function
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &after); err != nil {
		return fmt.Errorf("read the applied Function: %w", err)
	}
	changes := fnspec.Diff(before, &after)
	fmt.Fprintf(a.env.Out, "function %s in %s: %s (from %s)\n", after.Name, ns, changes.Verb(), from)
	fmt.Fprint(a.env.Out, changes.String())
	if !wait {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.waitTimeout)
	defer cancel()
	entry := p.Entry()
	if pkg != nil {
		if err := a.waitPackage(ctx, &after, pkg, f.waitTimeout); err != nil {
			return err
		}
		// A load error names the module's file in the package, not
		// function.py: no excerpt of the local file.
		entry = project.Source{}
	}
	return a.waitReady(ctx, &after, entry, f.waitTimeout)
}

// switchCode prepares turning before's inline code into the package of u
// (toPackage), or its package into u's inline code. Server-side apply
// drops the old field only when faas alone owns it; when another field
// manager (kubectl, an edit) owns it too, a JSON patch swaps the two in
// one request first, and deploy says so: that manager may set it again.
func (a *app) switchCode(ctx context.Context, c client.Client, before *faasv1.Function, u *unstructured.Unstructured, toPackage bool) error {
	drop := fnspec.FieldPackage
	if toPackage {
		drop = fnspec.FieldCode
	}
	owners := fnspec.OtherOwners(before, drop)
	if len(owners) == 0 {
		return nil
	}
	patch, err := fnspec.SwitchPatch(before.ResourceVersion, u, drop)
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, before.DeepCopy(), client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(fnspec.FieldManager)); err != nil {
		// A failed test of the resourceVersion is Invalid without causes;
		// a Function the API server refuses has its fields as causes.
		var se apierrors.APIStatus
		if apierrors.IsConflict(err) || (apierrors.IsInvalid(err) && errors.As(err, &se) &&
			(se.Status().Details == nil || len(se.Status().Details.Causes) == 0)) {
			return fmt.Errorf("function %s/%s changed while deploying: deploy again", before.Namespace, before.Name)
		}
		return fmt.Errorf("replace spec.%s of Function %s/%s: %w", drop, before.Namespace, before.Name, err)
	}
	// An earlier switch leaves faas's patch (an Update) owning the field:
	// not worth a note.
	others := slices.DeleteFunc(owners, func(o string) bool { return strings.HasPrefix(o, fnspec.FieldManager+" ") })
	if len(others) > 0 {
		fmt.Fprintf(a.env.Out, "note: removed spec.%s, which %s also set (and may set again)\n", drop, strings.Join(others, ", "))
	}
	return nil
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
