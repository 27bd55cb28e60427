// Command faas is the minifaas CLI: init, deploy, invoke, list, describe,
// logs and delete functions without writing YAML. See `faas --help`.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/minifaas/minifaas/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// client-go logs through klog (port-forward and watch hiccups); the
	// CLI reports what matters itself, as one line per error.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("logtostderr", "false")
	_ = klogFlags.Set("stderrthreshold", "FATAL") // else errors still reach stderr
	klog.SetOutput(io.Discard)
	code := cli.Main(ctx, os.Args[1:], &cli.Env{
		In:           os.Stdin,
		Out:          os.Stdout,
		ErrOut:       os.Stderr,
		Getenv:       os.Getenv,
		Now:          time.Now,
		PollInterval: 250 * time.Millisecond,
		Version:      version(),
	})
	stop()
	os.Exit(code)
}

// version is the module version the binary was built from, or "dev".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
