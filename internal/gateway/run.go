package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/autoscaler"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
	"github.com/minifaas/minifaas/internal/kube"
)

// Run serves the gateway until ctx is done, then drains: it keeps accepting
// for DrainDelay (answers close their connections), stops accepting, and
// waits for every held and in-flight call, within ShutdownTimeout, before it
// stops its informers and background work, which held calls need.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := log.FromContext(ctx)
	restCfg, err := kube.RESTConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	restCfg.QPS, restCfg.Burst = 50, 100
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register Kubernetes types: %w", err)
	}
	if err := faasv1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register Function types: %w", err)
	}
	c, err := client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	if cfg.Identity == "" {
		cfg.Identity, _ = os.Hostname()
	}

	// Background work outlives ctx: held calls need informers and starts
	// until they are answered.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	metrics := NewMetrics()
	gw := New(bg, cfg, scaleSubresource{c: c}, podWriter{c: c}, metrics, logger)
	ps := newPeers(cfg.PodIP, portOf(cfg.AdminAddr))
	if err := startInformers(bg, restCfg, scheme, cfg, gw, ps); err != nil {
		return err
	}
	go gw.RunHealer(bg)
	go gw.RunPoolWarmer(bg)
	go gw.RunJanitor(bg)
	go gw.RunCompiler(bg)
	auto := &autoscaler.Autoscaler{
		Collector: &autoscaler.Collector{Local: gw, Peers: ps, Client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}},
			GoneAfter: cfg.PeerGoneAfter, Now: time.Now},
		Functions: gw, Scaler: scaleSubresource{c: c}, Zeroer: zeroer{gw}, Observer: metrics,
		Timing: autoscaler.Timing{Interval: cfg.AutoscaleInterval, BurstWindow: cfg.BurstWindow, ScrapeTimeout: cfg.ScrapeTimeout, APITimeout: cfg.APITimeout},
		Log:    logger.WithName("autoscaler"), Now: time.Now,
	}
	autoDone := make(chan struct{})
	go func() {
		defer close(autoDone)
		runAutoscaler(bg, cfg, restCfg, auto, logger)
	}()

	draining := &httpapi.Draining{}
	public := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           chain(gw, metrics, draining, cfg, logger),
		ReadHeaderTimeout: cfg.HeaderTimeout,
		IdleTimeout:       cfg.KeepAliveTimeout,
	}
	admin := &http.Server{Addr: cfg.AdminAddr, Handler: adminRoutes(gw, metrics, draining), ReadHeaderTimeout: cfg.HeaderTimeout}
	errc := make(chan error, 2)
	go func() { errc <- fmt.Errorf("serve %s: %w", cfg.ListenAddr, public.ListenAndServe()) }()
	go func() { errc <- fmt.Errorf("serve admin %s: %w", cfg.AdminAddr, admin.ListenAndServe()) }()
	logger.Info("Gateway listening", "address", cfg.ListenAddr, "admin", cfg.AdminAddr, "namespace", cfg.Namespace, "defaultNamespace", cfg.DefaultNamespace)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	err = drain(logger, cfg, draining, public, admin, stopBG)
	// The leader gives its Lease back as it stops, so the next takes over
	// at once instead of after the Lease expires.
	select {
	case <-autoDone:
	case <-time.After(cfg.RenewDeadline):
	}
	return err
}

// drain stops the gateway without losing a call it accepted.
func drain(logger logr.Logger, cfg Config, draining *httpapi.Draining, public, admin *http.Server, stopBG func()) error {
	logger.Info("Draining", "drainDelay", cfg.DrainDelay.String(), "shutdownTimeout", cfg.ShutdownTimeout.String())
	draining.Start()
	time.Sleep(cfg.DrainDelay)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err := public.Shutdown(ctx)
	stopBG()
	_ = admin.Shutdown(ctx)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down: %w", err)
	}
	logger.Info("Gateway stopped")
	return nil
}

func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	var n int
	_, _ = fmt.Sscan(p, &n)
	return n
}

// runAutoscaler runs the autoscaler, under leader election when configured.
func runAutoscaler(ctx context.Context, cfg Config, restCfg *rest.Config, auto *autoscaler.Autoscaler, logger logr.Logger) {
	if !cfg.LeaderElect {
		auto.Run(ctx)
		return
	}
	lock, err := resourcelock.NewFromKubeconfig(resourcelock.LeasesResourceLock, cfg.LeaderElectionNamespace,
		"faas-gateway-autoscaler", resourcelock.ResourceLockConfig{Identity: cfg.Identity}, restCfg, cfg.RenewDeadline)
	if err != nil {
		logger.Error(err, "Cannot elect an autoscaler; functions will not be scaled by this replica")
		return
	}
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock: lock, ReleaseOnCancel: true,
			LeaseDuration: cfg.LeaseDuration, RenewDeadline: cfg.RenewDeadline, RetryPeriod: cfg.RetryPeriod,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					logger.Info("Became the autoscaler", "identity", cfg.Identity)
					auto.Run(ctx)
				},
				OnStoppedLeading: func() { logger.Info("Stopped being the autoscaler", "identity", cfg.Identity) },
			},
		})
	}
}
