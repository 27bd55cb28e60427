package gateway

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/pooltoken"
	"github.com/minifaas/minifaas/internal/resources"
)

// startInformers feeds the gateway and its peer list from informers, and
// returns once their caches are synced: Functions (whose status lists their
// pool pods), RuntimePools (whose status lists their idle pods), the pool
// key, function EndpointSlices, and the EndpointSlices of the peer and the
// compiler Services. The
// gateway reads no pods: the operator lists the ones it needs.
func startInformers(ctx context.Context, restCfg *rest.Config, scheme *runtime.Scheme, cfg Config, gw *Gateway, ps *peers) error {
	main, err := cache.New(restCfg, cacheOptions(scheme, cfg.Namespace, cfg.SystemNamespace))
	if err != nil {
		return fmt.Errorf("create informers: %w", err)
	}
	services := []string{cfg.PeerService}
	if cfg.CompilerService != "" {
		services = append(services, cfg.CompilerService)
	}
	platformServices, err := labels.NewRequirement(discoveryv1.LabelServiceName, selection.In, services)
	if err != nil {
		return fmt.Errorf("select the platform's Services: %w", err)
	}
	peerCache, err := cache.New(restCfg, cache.Options{
		Scheme:            scheme,
		DefaultNamespaces: map[string]cache.Config{cfg.SystemNamespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&discoveryv1.EndpointSlice{}: {Label: labels.NewSelector().Add(*platformServices)},
		},
	})
	if err != nil {
		return fmt.Errorf("create peer informer: %w", err)
	}
	onKey := func(secret *corev1.Secret, deleted bool) {
		if !deleted && len(secret.Data[pooltoken.SecretKey]) > 0 {
			gw.SetPoolKey(secret.Data[pooltoken.SecretKey])
			log.FromContext(ctx).Info("Pool path enabled", "secret", secret.Namespace+"/"+secret.Name)
		}
	}
	onPlatformSlice := func(slice *discoveryv1.EndpointSlice, deleted bool) {
		switch slice.Labels[discoveryv1.LabelServiceName] {
		case cfg.PeerService:
			ps.OnSlice(slice, deleted)
		case cfg.CompilerService:
			gw.OnCompilerSlice(slice, deleted)
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
		c       cache.Cache
		obj     client.Object
		handler toolscache.ResourceEventHandler
	}{
		{main, &faasv1.Function{}, eventsOf(onFunction)},
		{main, &corev1.Secret{}, eventsOf(onKey)},
		{main, &faasv1.RuntimePool{}, eventsOf(gw.OnRuntimePool)},
		{main, &discoveryv1.EndpointSlice{}, eventsOf(gw.OnEndpointSlice)},
		{peerCache, &discoveryv1.EndpointSlice{}, eventsOf(onPlatformSlice)},
	}
	for _, h := range handlers {
		informer, err := h.c.GetInformer(ctx, h.obj)
		if err != nil {
			return fmt.Errorf("get %T informer: %w", h.obj, err)
		}
		if _, err := informer.AddEventHandler(h.handler); err != nil {
			return fmt.Errorf("watch %T: %w", h.obj, err)
		}
	}
	for _, c := range []cache.Cache{main, peerCache} {
		go func() {
			if err := c.Start(ctx); err != nil {
				log.FromContext(ctx).Error(err, "Informers stopped")
			}
		}()
		if !c.WaitForCacheSync(ctx) {
			return fmt.Errorf("informers did not sync")
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

// cacheOptions watches Functions, RuntimePools, only the EndpointSlices of
// function Services (they carry the Service's function label), and the one
// pool key Secret (created by the operator with the first pool).
func cacheOptions(scheme *runtime.Scheme, namespace, systemNamespace string) cache.Options {
	hasFunction, _ := labels.NewRequirement(resources.FunctionLabel, selection.Exists, nil)
	opts := cache.Options{
		Scheme: scheme,
		ByObject: map[client.Object]cache.ByObject{
			&discoveryv1.EndpointSlice{}: {Label: labels.NewSelector().Add(*hasFunction)},
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
