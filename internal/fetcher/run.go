package fetcher

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/minifaas/minifaas/internal/packagebuild"
)

// Run serves packages on cfg.ListenAddr until ctx ends, then lets the
// answers in flight finish within cfg.ShutdownTimeout. The logger is
// ctx's.
func Run(ctx context.Context, cfg Config) error {
	log := logr.FromContextOrDiscard(ctx)
	creds, err := packagebuild.LoadCredentials(cfg.CredentialsDir)
	if err != nil {
		return err
	}
	key, err := loadTicketKey(cfg.CredentialsDir)
	if err != nil {
		return err
	}
	if cfg.Registry == "" {
		addr, plain, err := registryOverride(cfg.CredentialsDir)
		if err != nil {
			return err
		}
		cfg.Registry, cfg.PlainHTTP = addr, plain
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	deps := Deps{Credentials: creds, TicketKey: key, Metrics: reg, Gatherer: reg, Log: log}
	if cfg.Registry == "" {
		restCfg, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
		if err != nil {
			return fmt.Errorf("kubeconfig: %w", err)
		}
		cs, err := kubernetes.NewForConfig(restCfg)
		if err != nil {
			return fmt.Errorf("kubernetes client: %w", err)
		}
		deps.Services = cs.CoreV1()
	}
	f, err := New(cfg, deps)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           f.Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		// ctx's values (the logger), not its end: at shutdown the answers
		// in flight go on.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	registry := cfg.Registry
	if registry == "" {
		registry = "Service " + cfg.Namespace + "/" + cfg.RegistryService
	}
	log.Info("Serving packages", "address", ln.Addr().String(), "registry", registry,
		"cacheDir", cfg.CacheDir, "cacheMaxBytes", cfg.CacheMaxBytes)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	log.Info("Shutting down", "timeout", cfg.ShutdownTimeout)
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
