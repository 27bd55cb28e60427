// Command operator reconciles Functions into the ConfigMaps, Deployments and
// Services that serve them. It runs in the cluster (config/operator) or from
// a laptop against a kubeconfig: go run ./cmd/operator --namespace default
package main

import (
	"os"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/minifaas/minifaas/internal/controller"
	"github.com/minifaas/minifaas/internal/operator"
)

func main() {
	var cfg operator.Config
	var devLog bool
	cmd := &cobra.Command{
		Use:          "operator",
		Short:        "Reconcile Functions into runner Deployments, Services and code ConfigMaps",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseDevMode(devLog)))
			return operator.Run(ctrl.SetupSignalHandler(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig path (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
	f.StringVar(&cfg.Namespace, "namespace", "", "only reconcile Functions in this namespace (default: all)")
	f.StringVar(&cfg.PythonImage, "python-image", "faas-python-runner:dev", "runner image of the python runtime")
	f.StringVar(&cfg.NodeJSImage, "nodejs-image", "faas-nodejs-runner:dev", "runner image of the nodejs runtime")
	f.DurationVar(&cfg.LoadFailureHold, "load-failure-hold", controller.DefaultLoadFailureHold, "how long a Function whose code failed to load stays LoadFailed at zero before the next call tries again")
	f.StringVar(&cfg.MetricsAddr, "metrics-bind-address", "0", "metrics address, e.g. :8443; 0 turns metrics off")
	f.StringVar(&cfg.ProbeAddr, "health-probe-bind-address", ":8081", "health probe address; 0 turns probes off")
	f.BoolVar(&cfg.LeaderElect, "leader-elect", false, "elect one active replica (in-cluster with several replicas)")
	f.StringVar(&cfg.LeaderElectionNamespace, "leader-election-namespace", "faas-system", "namespace of the leader election Lease")
	f.StringVar(&cfg.SystemNamespace, "system-namespace", "faas-system", "the platform's namespace, home of the gateway and the pool key Secret")
	f.StringSliceVar(&cfg.APIServerCIDRs, "api-server-cidr", nil,
		"further API server addresses (IP or CIDR, repeatable) that function pods may not reach, e.g. a managed cluster's public endpoint; the kubernetes Service and its endpoints are found by the operator")
	f.Float32Var(&cfg.QPS, "kube-api-qps", operator.DefaultQPS, "requests per second to the API server, sustained")
	f.IntVar(&cfg.Burst, "kube-api-burst", operator.DefaultBurst, "requests to the API server in a burst above --kube-api-qps")
	f.IntVar(&cfg.FunctionConcurrency, "function-concurrency", operator.DefaultFunctionConcurrency, "Functions reconciled at once")
	f.IntVar(&cfg.PoolConcurrency, "runtimepool-concurrency", operator.DefaultPoolConcurrency, "RuntimePools reconciled at once")
	f.StringVar(&cfg.PprofAddr, "pprof-bind-address", "0", "net/http/pprof address, e.g. 127.0.0.1:6060; 0 turns it off")
	f.StringVar(&cfg.PackageImage, "package-image", "faas-package:dev", "image of the package build steps (faas-package); empty turns packages off")
	f.StringVar(&cfg.RegistryService, "registry-service", "faas-registry", "Service of the package registry, in --system-namespace")
	f.StringVar(&cfg.FetcherService, "fetcher-service", "faas-fetcher", "Service of the node-local package fetcher, in --system-namespace")
	f.DurationVar(&cfg.BuildDeadline, "build-deadline", operator.DefaultBuildDeadline, "how long one package build may run")
	f.DurationVar(&cfg.RegistryTimeout, "registry-timeout", operator.DefaultRegistryTimeout, "bound of one request to the package registry")
	f.DurationVar(&cfg.BuildPollInterval, "build-poll-interval", controller.DefaultBuildPollInterval, "how often a running package build is looked at")
	f.DurationVar(&cfg.BuildRetryInterval, "build-retry-interval", controller.DefaultBuildRetryInterval, "pause before a package build that failed for the platform's reason is tried again")
	f.DurationVar(&cfg.BuildJobTTL, "build-job-ttl", controller.DefaultBuildJobTTL, "how long a finished build Job, with its pip output, is kept")
	f.DurationVar(&cfg.PackageCleanupGiveUp, "package-cleanup-give-up", controller.DefaultCleanupGiveUp, "how long a deleted Function waits for its packages to be deleted from an unreachable registry")
	f.BoolVar(&devLog, "dev-log", true, "human-readable logs instead of JSON")
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}
