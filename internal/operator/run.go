package operator

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/controller"
	"github.com/minifaas/minifaas/internal/kube"
	"github.com/minifaas/minifaas/internal/resources"
)

// Run starts the operator and blocks until ctx is done or it fails.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	restCfg, err := kube.RESTConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register Kubernetes types: %w", err)
	}
	if err := faasv1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register Function types: %w", err)
	}

	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   cacheOptions(cfg.Namespace),
		Metrics:                 metricsserver.Options{BindAddress: cfg.MetricsAddr},
		HealthProbeBindAddress:  cfg.ProbeAddr,
		LeaderElection:          cfg.LeaderElect,
		LeaderElectionID:        "faas-operator.faas.example.com",
		LeaderElectionNamespace: cfg.LeaderElectionNamespace,
		// A stopping operator hands over at once instead of after the lease expires.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	extraAPIServer, err := cfg.APIServerPrefixes()
	if err != nil {
		return err
	}
	network, err := controller.NewNetworkIsolation(restCfg, scheme, cfg.SystemNamespace, extraAPIServer)
	if err != nil {
		return err
	}
	if err := mgr.Add(network); err != nil {
		return fmt.Errorf("add cache of the API server's addresses: %w", err)
	}
	r := &controller.FunctionReconciler{
		Client:          mgr.GetClient(),
		Scheme:          scheme,
		Recorder:        mgr.GetEventRecorder(controller.FieldOwner),
		Images:          cfg.Images(),
		Network:         network,
		LoadFailureHold: cfg.LoadFailureHold,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up Function controller: %w", err)
	}
	pools := &controller.RuntimePoolReconciler{
		Client: mgr.GetClient(), Scheme: scheme, Images: cfg.Images(),
		SystemNamespace: cfg.SystemNamespace, APIReader: mgr.GetAPIReader(), Network: network,
	}
	if err := pools.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up RuntimePool controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("add ready check: %w", err)
	}
	log.FromContext(ctx).Info("Starting operator", "namespace", orAll(cfg.Namespace), "pythonImage", cfg.PythonImage, "nodejsImage", cfg.NodeJSImage)
	return mgr.Start(ctx)
}

// cacheOptions watches only what the operator needs: Functions, pools and
// the objects and pods it made (by label), in one namespace or all.
func cacheOptions(namespace string) cache.Options {
	managed := labels.SelectorFromSet(labels.Set{resources.ManagedByLabel: resources.ManagedBy})
	opts := cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}:           {Label: managed},
			&corev1.Service{}:             {Label: managed},
			&appsv1.Deployment{}:          {Label: managed},
			&corev1.Pod{}:                 {Label: managed},
			&networkingv1.NetworkPolicy{}: {Label: managed},
		},
	}
	if namespace != "" {
		opts.DefaultNamespaces = map[string]cache.Config{namespace: {}}
	}
	return opts
}

func orAll(ns string) string {
	if ns == "" {
		return "<all>"
	}
	return ns
}
