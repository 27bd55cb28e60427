// Command faas-package is the platform's package tool, one static binary in
// the faas-package image:
//
//	faas-package fetcher       the node-local package fetcher (DaemonSet faas-fetcher)
//	faas-package build-fetch   first step of a build Job: fetch the source artifact, check its requirements.txt
//	faas-package build-push    last step of a build Job: push the built artifact
//
// The logic is in internal/fetcher and internal/packagebuild.
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/minifaas/minifaas/internal/packagebuild"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := newCommand().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// exitCode is 0 for success, packagebuild.ExitInvalidRequirements when
// build-fetch refused the requirements (the author's mistake: retrying the
// same source cannot help), 1 for any other failure.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, packagebuild.ErrInvalidRequirements):
		return packagebuild.ExitInvalidRequirements
	default:
		return 1
	}
}

func newCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:          "faas-package",
		Short:        "Serve function packages to runners on this node, or fetch and push them in a build",
		SilenceUsage: true,
	}
	cmd.AddCommand(fetcherCommand(), buildFetchCommand(), buildPushCommand())
	return cmd
}
