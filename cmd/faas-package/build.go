package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/minifaas/minifaas/internal/packagebuild"
)

// defaultStepTimeout bounds a build step; the Job's deadline bounds the
// whole build.
const defaultStepTimeout = 10 * time.Minute

func bindStepFlags(f *pflag.FlagSet, s *packagebuild.Step, terminationLog *string) {
	f.StringVar(&s.Registry, "registry", "", "registry host:port[/path], e.g. the registry Service's ClusterIP:5000")
	f.BoolVar(&s.PlainHTTP, "plain-http", true, "talk plain HTTP to the registry")
	f.StringVar(&s.Repository, "repository", "", "the function's repository, faas/<namespace>/<name>")
	f.StringVar(&s.CredentialsDir, "credentials-dir", "/etc/faas-packages", "directory of the registry's username and password files")
	f.DurationVar(&s.Timeout, "timeout", defaultStepTimeout, "bound of the whole step")
	f.DurationVar(&s.Client.DialTimeout, "dial-timeout", packagebuild.DefaultDialTimeout, "bound of connecting to the registry")
	f.DurationVar(&s.Client.ResponseHeaderTimeout, "response-header-timeout", packagebuild.DefaultResponseHeaderTimeout, "bound of waiting for the registry's answer headers")
	f.DurationVar(&s.ConnectWait, "connect-wait", packagebuild.DefaultConnectWait, "bound of waiting, at the start, until the registry answers (a new pod's network may admit it late); 0 does not wait")
	f.StringVar(terminationLog, "termination-log", "/dev/termination-log", "file for the one-line outcome (empty: none)")
}

func buildFetchCommand() *cobra.Command {
	var s packagebuild.FetchStep
	var terminationLog string
	cmd := &cobra.Command{
		Use:   "build-fetch",
		Short: "Fetch a source artifact by digest into --dest (dest/root/code, dest/root/requirements/requirements.txt) and check its requirements.txt",
		Long: `Fetch a source artifact by digest into --dest (dest/root/code,
dest/root/requirements/requirements.txt), then check that requirements.txt
holds requirement specifiers only: no pip options, URLs or paths. A refused
requirements.txt exits with code 3, any other failure with 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return packagebuild.Report(terminationLog, nil, s.Run(cmd.Context()))
		},
	}
	bindStepFlags(cmd.Flags(), &s.Step, &terminationLog)
	cmd.Flags().StringVar(&s.Digest, "digest", "", "the source artifact's manifest digest, sha256:<hex>")
	cmd.Flags().StringVar(&s.Dest, "dest", "", "empty or missing directory to fetch into")
	return cmd
}

func buildPushCommand() *cobra.Command {
	var s packagebuild.PushStep
	var terminationLog string
	cmd := &cobra.Command{
		Use:   "build-push",
		Short: `Push the built artifact of --source's code and the --deps folder; report {"digest","depsLayer"} to the termination log`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := s.Run(cmd.Context())
			if err != nil {
				return packagebuild.Report(terminationLog, nil, err)
			}
			if err := packagebuild.Report(terminationLog, &res, nil); err != nil {
				return err
			}
			cmd.Printf("Pushed %s (deps layer %s)\n", res.Digest, res.DepsLayer)
			return nil
		},
	}
	bindStepFlags(cmd.Flags(), &s.Step, &terminationLog)
	cmd.Flags().StringVar(&s.Source, "source", "", "the source artifact's manifest digest, sha256:<hex>")
	cmd.Flags().StringVar(&s.WorkDir, "work-dir", "", "folder shared with pip's step (its volume's mount point) that holds --deps; no link is followed under it (default: the parent of --deps)")
	cmd.Flags().StringVar(&s.Deps, "deps", "", "folder pip installed the requirements into (--target), under --work-dir; missing counts as empty, a link is refused")
	cmd.Flags().StringVar(&s.TmpDir, "tmp-dir", os.TempDir(), "writable folder for the deps layer's file (up to ~100 MiB), not shared with pip's step")
	return cmd
}
