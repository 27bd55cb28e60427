package operator

import (
	"context"
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
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
	restCfg.QPS, restCfg.Burst = cfg.QPS, cfg.Burst
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register Kubernetes types: %w", err)
	}
	if err := faasv1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register Function types: %w", err)
	}

	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cacheOptions(cfg.Namespace),
		Metrics:                metricsserver.Options{BindAddress: cfg.MetricsAddr},
		HealthProbeBindAddress: cfg.ProbeAddr,
		PprofBindAddress:       cfg.PprofAddr,
		Controller: config.Controller{GroupKindConcurrency: map[string]int{
			schema.GroupKind{Group: faasv1.GroupVersion.Group, Kind: "Function"}.String():    cfg.FunctionConcurrency,
			schema.GroupKind{Group: faasv1.GroupVersion.Group, Kind: "RuntimePool"}.String(): cfg.PoolConcurrency,
		}},
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
	if cfg.PackageImage != "" {
		r.Packages = &controller.Packages{
			Registry: &controller.PackageRegistry{
				Reader: mgr.GetAPIReader(), Writer: mgr.GetClient(), Namespace: cfg.SystemNamespace,
				RegistryService: cfg.RegistryService, FetcherService: cfg.FetcherService, Timeout: cfg.RegistryTimeout,
			},
			Image: cfg.PackageImage, BuildDeadline: cfg.BuildDeadline,
			PollInterval: cfg.BuildPollInterval, RetryInterval: cfg.BuildRetryInterval,
			JobTTL: cfg.BuildJobTTL, CleanupGiveUp: cfg.PackageCleanupGiveUp,
		}
		if err := mgr.Add(manager.RunnableFunc(r.Packages.Registry.EnsureCredentials)); err != nil {
			return fmt.Errorf("add the package credentials: %w", err)
		}
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
		DefaultTransform: trimForCache,
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

// lastAppliedAnnotation is where client-side kubectl apply keeps a copy of
// the whole object: for a Function, its code a second time.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// trimForCache drops what the operator never reads from every cached
// object before it is stored: managedFields (server-side apply's
// bookkeeping, often larger than the spec) and kubectl's last-applied copy.
// Writes are server-side applies and status patches built from scratch, so
// nothing written back misses them.
func trimForCache(in any) (any, error) {
	obj, err := meta.Accessor(in)
	if err != nil {
		return in, nil // not an object, e.g. a tombstone: keep as is
	}
	if obj.GetManagedFields() != nil {
		obj.SetManagedFields(nil)
	}
	if a := obj.GetAnnotations(); a[lastAppliedAnnotation] != "" {
		a = maps.Clone(a)
		delete(a, lastAppliedAnnotation)
		obj.SetAnnotations(a)
	}
	return in, nil
}
