// Command gateway is the HTTP front door of every function: it routes
// /invoke/<name> to the function's pods, scales functions from zero on the
// first call, sizes them to their demand and back to zero when idle. It runs
// in the cluster (config/gateway) or from a laptop against a kubeconfig.
package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/minifaas/minifaas/internal/gateway"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

func main() {
	cfg := gateway.Config{RunnerPort: runnerapi.CallPort, RunnerAdminPort: runnerapi.AdminPort}
	var devLog bool
	var pprofAddr string
	cmd := &cobra.Command{
		Use:          "gateway",
		Short:        "Route /invoke/<name> to function pods; scale functions from zero, to their demand and back",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := zap.New(zap.UseDevMode(devLog))
			ctrl.SetLogger(logger)
			ctx := log.IntoContext(ctrl.SetupSignalHandler(), logger)
			if pprofAddr != "" {
				go servePprof(ctx, pprofAddr, logger)
			}
			return gateway.Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig path (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
	f.StringVar(&cfg.ListenAddr, "listen", ":8000", "public address: /invoke/ only")
	f.StringVar(&cfg.AdminAddr, "admin-listen", ":9090", "admin address: /metrics, /healthz, /readyz and the load report peers scrape")
	f.StringVar(&cfg.Namespace, "namespace", "", "only serve Functions in this namespace (default: all)")
	f.StringVar(&cfg.DefaultNamespace, "default-namespace", "default", "namespace of /invoke/<name>; /invoke/<name>.<namespace> names another")
	f.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", 6<<20, "largest request body a call may send (413 above)")
	f.DurationVar(&cfg.HoldTimeout, "hold-timeout", 30*time.Second, "how long a call waits for a free pod (504 after)")
	f.IntVar(&cfg.MaxWaiting, "max-waiting", 2048, "calls one function may hold waiting for a pod (503 above)")
	f.IntVar(&cfg.MaxAttempts, "max-attempts", 4, "pods one call is tried on when connections fail before anything was sent")
	f.DurationVar(&cfg.HeaderTimeout, "header-timeout", 10*time.Second, "how long a caller may take to send its headers")
	f.DurationVar(&cfg.KeepAliveTimeout, "keep-alive-timeout", 120*time.Second, "how long an idle caller connection stays open")
	f.DurationVar(&cfg.DialTimeout, "dial-timeout", 2*time.Second, "bound of connecting to a pod")
	f.DurationVar(&cfg.PodKeepAliveTimeout, "pod-keep-alive-timeout", 60*time.Second, "how long an idle connection to a pod is kept (below the runner's)")
	f.DurationVar(&cfg.DeadlineGrace, "deadline-grace", 5*time.Second, "added to a function's timeout for a call's read and write deadlines")
	f.DurationVar(&cfg.ProbeInterval, "probe-interval", 5*time.Millisecond, "how often a starting pod's readiness is probed")
	f.DurationVar(&cfg.ProbeFastFor, "probe-fast-for", 3*time.Second, "how long a starting pod is probed every --probe-interval before backing off")
	f.DurationVar(&cfg.ProbeMaxInterval, "probe-max-interval", 250*time.Millisecond, "the longest pause between probes of a starting pod")
	f.DurationVar(&cfg.ProbeTimeout, "probe-timeout", 5*time.Minute, "how long a starting pod is probed at most")
	f.DurationVar(&cfg.ProbeRequestTimeout, "probe-request-timeout", 500*time.Millisecond, "bound of one probe")
	f.DurationVar(&cfg.ColdStartTimeout, "cold-start-timeout", 10*time.Second, "bound of one start: a pool claim or a scale from zero")
	f.DurationVar(&cfg.ColdStartRetryBackoff, "cold-start-retry-backoff", time.Second, "pause after a failed start")
	f.DurationVar(&cfg.ColdStartAskGrace, "cold-start-ask-grace", 2*time.Second, "after asking for a replica, how long no other ask is made while the Function is not seen with it")
	f.DurationVar(&cfg.HealInterval, "heal-interval", time.Second, "how often functions holding calls with no pod are started again")
	f.DurationVar(&cfg.SpecializeTimeout, "specialize-timeout", 2*time.Second, "bound of one pool pod specialization (well below --cold-start-timeout)")
	f.DurationVar(&cfg.PackageSpecializeTimeout, "package-specialize-timeout", 8*time.Second, "bound of one pool pod specialization with a package, which the pod fetches first (below --cold-start-timeout)")
	f.IntVar(&cfg.ClaimAttempts, "claim-attempts", 3, "pool pods one start tries before the Deployment")
	f.DurationVar(&cfg.APITimeout, "api-timeout", 10*time.Second, "bound of one write to the API server")
	f.IntVar(&cfg.AdoptAttempts, "adopt-attempts", 5, "attempts to hand a claimed pool pod to its function before deleting it")
	f.DurationVar(&cfg.AdoptBackoff, "adopt-backoff", time.Second, "pause between hand-over attempts, times the attempt")
	f.DurationVar(&cfg.PoolWarmInterval, "pool-warm-interval", 30*time.Second, "how often connections to idle pool pods are renewed")
	f.DurationVar(&cfg.StatsTimeout, "stats-timeout", time.Second, "bound of asking a pod for its calls before scaling to zero")
	f.DurationVar(&cfg.AutoscaleInterval, "autoscale-interval", time.Second, "how often demand is sampled and functions sized")
	f.DurationVar(&cfg.BurstWindow, "burst-window", 2*time.Second, "window of demand averaged for a recommendation")
	f.DurationVar(&cfg.ScrapeTimeout, "scrape-timeout", 500*time.Millisecond, "bound of collecting the replicas' load")
	f.DurationVar(&cfg.PeerGoneAfter, "peer-gone-after", 30*time.Second, "how long a gateway replica may fail to report its load before it counts as gone")
	f.DurationVar(&cfg.PendingTTL, "pending-ttl", time.Minute, "how long state for endpoints of an unseen Function is kept")
	f.DurationVar(&cfg.HandoverTTL, "handover-ttl", time.Minute, "how long a pool pod this replica specialized counts as its function's before the function's status lists it")
	f.DurationVar(&cfg.HandoverDelay, "handover-delay", 100*time.Millisecond, "how long the hand-over of a claimed pool pod waits for its first call to be answered (at most a quarter of --handover-ttl and --pool-warm-interval)")
	f.BoolVar(&cfg.LeaderElect, "leader-elect", false, "elect one replica as the autoscaler (several replicas)")
	f.StringVar(&cfg.LeaderElectionNamespace, "leader-election-namespace", "faas-system", "namespace of the autoscaler's Lease")
	f.DurationVar(&cfg.LeaseDuration, "lease-duration", 15*time.Second, "autoscaler Lease duration")
	f.DurationVar(&cfg.RenewDeadline, "renew-deadline", 10*time.Second, "autoscaler Lease renew deadline")
	f.DurationVar(&cfg.RetryPeriod, "retry-period", 2*time.Second, "autoscaler Lease retry period")
	f.StringVar(&cfg.Identity, "identity", "", "this replica's name in the Lease (default: host name)")
	f.StringVar(&cfg.PodIP, "pod-ip", os.Getenv("POD_IP"), "this replica's IP, left out of its peers (default: $POD_IP)")
	f.StringVar(&cfg.PeerService, "peer-service", "faas-gateway-peers", "headless Service in the system namespace listing every replica's admin port")
	f.StringVar(&cfg.SystemNamespace, "system-namespace", "faas-system", "the platform's namespace: pool key Secret, peers")
	f.StringVar(&cfg.CompilerService, "compiler-service", "faas-compiler", "Service in the system namespace of the compiler of inline Python code; empty: pool pods compile code themselves")
	f.DurationVar(&cfg.CompileTimeout, "compile-timeout", 10*time.Second, "bound of one compile of a function's code ahead of its first call")
	f.DurationVar(&cfg.CompileRetryInterval, "compile-retry-interval", 5*time.Second, "pause after a compile that failed for a reason that may pass (no compiler ready, unreachable)")
	f.IntVar(&cfg.CompileAttempts, "compile-attempts", 3, "failed compiles of one source (the compiler out of time or memory on it) before pool pods are left to compile it themselves")
	f.IntVar(&cfg.CompiledCacheBytes, "compiled-cache-bytes", 8<<20, "bound of the compiled code kept in memory")
	f.DurationVar(&cfg.DrainDelay, "drain-delay", 3*time.Second, "how long a stopping gateway keeps accepting calls, closing their connections")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 905*time.Second, "how long a stopping gateway waits for held and in-flight calls (the API's longest call timeout, 900 s, plus the deadline grace)")
	f.BoolVar(&devLog, "dev-log", true, "human-readable logs instead of JSON")
	f.StringVar(&pprofAddr, "pprof-listen", "", "serve Go's profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (default: off)")
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}

// servePprof serves Go's profiles until ctx ends: what the gateway spends
// its CPU and memory on, under real load. Off unless --pprof-listen is set;
// it is a debugging port, never the public or the admin one.
func servePprof(ctx context.Context, addr string, log logr.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error(err, "Profiles not served", "address", addr)
	}
}
