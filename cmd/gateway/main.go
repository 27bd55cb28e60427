// Command gateway is the HTTP front door of every function: it routes
// /invoke/<name> to the function's pods, scales functions from zero on the
// first call and back to zero when idle. It runs in the cluster
// (config/gateway) or from a laptop against a kubeconfig.
package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/minifaas/minifaas/internal/gateway"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

func main() {
	cfg := gateway.Config{RunnerPort: runnerapi.CallPort}
	var devLog bool
	cmd := &cobra.Command{
		Use:          "gateway",
		Short:        "Route /invoke/<name> to function pods; scale functions from and to zero",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := zap.New(zap.UseDevMode(devLog))
			ctrl.SetLogger(logger)
			ctx := log.IntoContext(ctrl.SetupSignalHandler(), logger)
			return gateway.Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig path (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
	f.StringVar(&cfg.ListenAddr, "listen", ":8000", "address of /invoke/, /metrics, /healthz and /readyz")
	f.StringVar(&cfg.Namespace, "namespace", "", "only serve Functions in this namespace (default: all)")
	f.StringVar(&cfg.DefaultNamespace, "default-namespace", "default", "namespace of /invoke/<name>; /invoke/<name>.<namespace> names another")
	f.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", 6<<20, "largest request body a call may send (413 above)")
	f.DurationVar(&cfg.HoldTimeout, "hold-timeout", 30*time.Second, "how long a call waits for a ready pod (504 after)")
	f.IntVar(&cfg.MaxWaiting, "max-waiting", 2048, "calls one function may hold waiting for a pod (503 above)")
	f.DurationVar(&cfg.ProbeInterval, "probe-interval", 5*time.Millisecond, "how often a starting pod's readiness is probed")
	f.DurationVar(&cfg.IdleCheckInterval, "idle-check-interval", time.Second, "how often idle functions are scaled down")
	f.BoolVar(&cfg.LeaderElect, "leader-elect", false, "elect one replica to scale idle functions down (several replicas)")
	f.StringVar(&cfg.LeaderElectionNamespace, "leader-election-namespace", "faas-system", "namespace of the idler's Lease")
	f.StringVar(&cfg.Identity, "identity", "", "this replica's name in the Lease (default: host name)")
	f.StringVar(&cfg.SystemNamespace, "system-namespace", "faas-system", "the platform's namespace, home of the pool key Secret")
	f.BoolVar(&devLog, "dev-log", true, "human-readable logs instead of JSON")
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}
