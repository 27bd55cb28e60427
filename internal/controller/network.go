package controller

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/minifaas/minifaas/internal/resources"
)

// apiServerService is the Service in namespace default in front of the API
// server; the API server keeps it and its EndpointSlices up to date itself.
const apiServerService = "kubernetes"

// NetworkIsolation tells the reconcilers what the runner pods'
// NetworkPolicies need to know of the cluster: where the gateway runs and
// where pods reach the API server. The latter it reads from a cache of its
// own that holds only the kubernetes Service in namespace default and its
// EndpointSlices, whatever namespaces the operator is limited to; add it to
// the manager, which starts and syncs it before the controllers.
type NetworkIsolation struct {
	gatewayNamespace string
	extra            []netip.Prefix
	cache            cache.Cache
}

// NewNetworkIsolation makes a NetworkIsolation for the gateway in
// gatewayNamespace. extra are addresses of the API server the cluster does
// not list, such as a managed cluster's public endpoint.
func NewNetworkIsolation(cfg *rest.Config, scheme *runtime.Scheme, gatewayNamespace string, extra []netip.Prefix) (*NetworkIsolation, error) {
	c, err := cache.New(cfg, cache.Options{
		Scheme:            scheme,
		DefaultNamespaces: map[string]cache.Config{metav1.NamespaceDefault: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Service{}: {Field: fields.OneTermEqualSelector("metadata.name", apiServerService)},
			&discoveryv1.EndpointSlice{}: {Label: labels.SelectorFromSet(labels.Set{
				discoveryv1.LabelServiceName: apiServerService,
			})},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create cache of the API server's addresses: %w", err)
	}
	return &NetworkIsolation{gatewayNamespace: gatewayNamespace, extra: extra, cache: c}, nil
}

// Start runs the cache until ctx is done.
func (n *NetworkIsolation) Start(ctx context.Context) error { return n.cache.Start(ctx) }

// GetCache makes the manager start and sync the cache before controllers.
func (n *NetworkIsolation) GetCache() cache.Cache { return n.cache }

// Isolation returns what the NetworkPolicies need now. It fails when the
// cluster lists no address of the API server: a policy built then would
// not block it, and runner pods must not start without their policy.
func (n *NetworkIsolation) Isolation(ctx context.Context) (resources.Isolation, error) {
	addrs, err := n.apiServerAddresses(ctx)
	if err != nil {
		return resources.Isolation{}, err
	}
	return resources.Isolation{
		GatewayNamespace: n.gatewayNamespace,
		APIServer:        append(addrs, n.extra...),
	}, nil
}

// apiServerAddresses returns the ClusterIPs of the kubernetes Service and
// every address of its EndpointSlices, ready or not: egress policies see
// the endpoint a Service address was translated to.
func (n *NetworkIsolation) apiServerAddresses(ctx context.Context) ([]netip.Prefix, error) {
	var out []netip.Prefix
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	var svc corev1.Service
	key := client.ObjectKey{Namespace: metav1.NamespaceDefault, Name: apiServerService}
	if err := n.cache.Get(ctx, key, &svc); client.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("get Service %s: %w", key, err)
	}
	for _, ip := range svc.Spec.ClusterIPs {
		add(ip)
	}
	var eps discoveryv1.EndpointSliceList
	if err := n.cache.List(ctx, &eps, client.InNamespace(metav1.NamespaceDefault),
		client.MatchingLabels{discoveryv1.LabelServiceName: apiServerService}); err != nil {
		return nil, fmt.Errorf("list EndpointSlices of Service %s: %w", key, err)
	}
	for _, s := range eps.Items {
		for _, ep := range s.Endpoints {
			for _, a := range ep.Addresses {
				add(a)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no address of the API server is known: Service %s has no ClusterIP and no endpoints", key)
	}
	return out, nil
}

// sources return watches that call enqueue whenever the API server's
// addresses change, so every policy is rebuilt with the new ones.
func (n *NetworkIsolation) sources(enqueue handler.MapFunc) []source.Source {
	return []source.Source{
		source.Kind(n.cache, client.Object(&corev1.Service{}), handler.EnqueueRequestsFromMapFunc(enqueue)),
		source.Kind(n.cache, client.Object(&discoveryv1.EndpointSlice{}), handler.EnqueueRequestsFromMapFunc(enqueue)),
	}
}
