package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/kube"
	"github.com/minifaas/minifaas/internal/pooltoken"
	"github.com/minifaas/minifaas/internal/resources"
)

// Run serves the gateway until ctx is done, then lets in-flight calls finish.
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
	informers, err := cache.New(restCfg, cacheOptions(scheme, cfg.Namespace, cfg.SystemNamespace))
	if err != nil {
		return fmt.Errorf("create informers: %w", err)
	}

	metrics := NewMetrics()
	gw := New(ctx, cfg, scaleSubresource{c: c}, podWriter{c: c}, metrics, logger)
	if err := watch(ctx, informers, gw); err != nil {
		return err
	}
	go func() {
		if err := informers.Start(ctx); err != nil {
			logger.Error(err, "Informers stopped")
		}
	}()
	if !informers.WaitForCacheSync(ctx) {
		return fmt.Errorf("informers did not sync")
	}

	go runIdler(ctx, cfg, restCfg, gw)
	go gw.RunPoolWarmer(ctx)

	srv := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           routes(gw, metrics),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("Gateway listening", "address", cfg.ListenAddr, "namespace", cfg.Namespace, "defaultNamespace", cfg.DefaultNamespace)
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", cfg.ListenAddr, err)
	case <-ctx.Done():
	}
	// Stop taking calls; let those in flight finish.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down: %w", err)
	}
	logger.Info("Gateway stopped")
	return nil
}

// routes serves calls under /invoke/ and the gateway's own endpoints; calls
// bypass ServeMux so their paths reach the function uncleaned.
func routes(gw *Gateway, metrics *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", ok) // informers synced before the server started
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, InvokePrefix) {
			gw.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// watch feeds the gateway from its informers: Functions, the pool key,
// pool pods and EndpointSlices.
func watch(ctx context.Context, informers cache.Cache, gw *Gateway) error {
	onKey := func(secret *corev1.Secret, deleted bool) {
		if !deleted && len(secret.Data[pooltoken.SecretKey]) > 0 {
			gw.SetPoolKey(secret.Data[pooltoken.SecretKey])
			log.FromContext(ctx).Info("Pool path enabled", "secret", secret.Namespace+"/"+secret.Name)
		}
	}
	onFunction := func(fn *faasv1.Function, deleted bool) {
		if deleted {
			gw.OnFunctionDeleted(fn.Namespace, fn.Name)
		} else {
			gw.OnFunction(fn)
		}
	}
	handlers := []struct {
		obj     client.Object
		handler toolscache.ResourceEventHandler
	}{
		{&faasv1.Function{}, eventsOf(onFunction)},
		{&corev1.Secret{}, eventsOf(onKey)},
		{&corev1.Pod{}, eventsOf(gw.OnPoolPod)},
		{&discoveryv1.EndpointSlice{}, eventsOf(gw.OnEndpointSlice)},
	}
	for _, h := range handlers {
		informer, err := informers.GetInformer(ctx, h.obj)
		if err != nil {
			return fmt.Errorf("get %T informer: %w", h.obj, err)
		}
		if _, err := informer.AddEventHandler(h.handler); err != nil {
			return fmt.Errorf("watch %T: %w", h.obj, err)
		}
	}
	return nil
}

// eventsOf adapts an informer's events to on(obj, deleted), unwrapping the
// tombstones of deletions the informer saw late.
func eventsOf[T client.Object](on func(obj T, deleted bool)) toolscache.ResourceEventHandlerFuncs {
	deliver := func(obj any, deleted bool) {
		if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if o, ok := obj.(T); ok {
			on(o, deleted)
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { deliver(obj, false) },
		UpdateFunc: func(_, obj any) { deliver(obj, false) },
		DeleteFunc: func(obj any) { deliver(obj, true) },
	}
}

// cacheOptions watches Functions, only the EndpointSlices of function
// Services (they carry the Service's function label), only pool pods, and
// the one pool key Secret (created by the operator with the first pool).
func cacheOptions(scheme *runtime.Scheme, namespace, systemNamespace string) cache.Options {
	hasFunction, _ := labels.NewRequirement(resources.FunctionLabel, selection.Exists, nil)
	hasPoolState, _ := labels.NewRequirement(resources.PoolStateLabel, selection.Exists, nil)
	opts := cache.Options{
		Scheme: scheme,
		ByObject: map[client.Object]cache.ByObject{
			&discoveryv1.EndpointSlice{}: {Label: labels.NewSelector().Add(*hasFunction)},
			&corev1.Pod{}:                {Label: labels.NewSelector().Add(*hasPoolState)},
			&corev1.Secret{}: {
				Namespaces: map[string]cache.Config{systemNamespace: {}},
				Field:      fields.OneTermEqualSelector("metadata.name", pooltoken.SecretName),
			},
		},
	}
	if namespace != "" {
		opts.DefaultNamespaces = map[string]cache.Config{namespace: {}}
	}
	return opts
}

// runIdler runs the idler, under leader election when configured.
func runIdler(ctx context.Context, cfg Config, restCfg *rest.Config, gw *Gateway) {
	logger := log.FromContext(ctx)
	if !cfg.LeaderElect {
		gw.RunIdler(ctx)
		return
	}
	id := cfg.Identity
	if id == "" {
		id, _ = os.Hostname()
	}
	lock, err := resourcelock.NewFromKubeconfig(resourcelock.LeasesResourceLock, cfg.LeaderElectionNamespace,
		"faas-gateway-idler", resourcelock.ResourceLockConfig{Identity: id}, restCfg, 10*time.Second)
	if err != nil {
		logger.Error(err, "Cannot elect an idler; functions will not scale to zero")
		return
	}
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock: lock, ReleaseOnCancel: true,
			LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					logger.Info("Became the idler", "identity", id)
					gw.RunIdler(ctx)
				},
				OnStoppedLeading: func() { logger.Info("Stopped being the idler", "identity", id) },
			},
		})
	}
}
