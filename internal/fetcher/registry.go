package fetcher

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/minifaas/minifaas/internal/packagebuild"
)

// The fetcher reads the registry Service of the platform's namespace, only
// that one, to find its ClusterIP: clusters need not run DNS.
// +kubebuilder:rbac:groups="",namespace=faas-system,resources=services,resourceNames=faas-registry,verbs=get

// defaultRegistryPort is the registry's port when its Service names none.
const defaultRegistryPort = 5000

// errRegistryUnavailable: the registry's address could not be found.
var errRegistryUnavailable = errors.New("registry unavailable")

// endpoint is one address of the registry and a client of it.
type endpoint struct {
	addr      string
	plainHTTP bool
	client    remote.Client
}

func (e *endpoint) repository(repository string) (*remote.Repository, error) {
	return packagebuild.NewRepository(e.addr, repository, e.client, e.plainHTTP)
}

// registry finds the registry: endpoint returns where it is now, and
// forget, told of an endpoint that did not answer, makes the next call
// look again.
type registry interface {
	endpoint(ctx context.Context) (*endpoint, error)
	forget(*endpoint)
}

// staticRegistry is a registry given by address.
type staticRegistry struct{ e *endpoint }

func (s staticRegistry) endpoint(context.Context) (*endpoint, error) { return s.e, nil }
func (staticRegistry) forget(*endpoint)                              {}

// serviceRegistry is the registry behind a Service, at its ClusterIP and
// port, read when first needed and again after it did not answer.
type serviceRegistry struct {
	services  corev1client.ServicesGetter
	namespace string
	name      string
	timeout   time.Duration
	newClient func(addr string) remote.Client

	mu  sync.Mutex // guards cur; held while the Service is read, so one read serves all
	cur *endpoint
}

func (s *serviceRegistry) endpoint(ctx context.Context) (*endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		return s.cur, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	svc, err := s.services.Services(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: get Service %s/%s: %w", errRegistryUnavailable, s.namespace, s.name, err)
	}
	addr, err := serviceAddress(svc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRegistryUnavailable, err)
	}
	s.cur = &endpoint{addr: addr, plainHTTP: true, client: s.newClient(addr)}
	return s.cur, nil
}

func (s *serviceRegistry) forget(e *endpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == e {
		s.cur = nil
	}
}

// serviceAddress is the ClusterIP:port of the registry Service: its port
// named "registry", else its first, else defaultRegistryPort.
func serviceAddress(svc *corev1.Service) (string, error) {
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil {
		return "", fmt.Errorf("service %s/%s has no ClusterIP (%q)", svc.Namespace, svc.Name, svc.Spec.ClusterIP)
	}
	port := int32(defaultRegistryPort)
	for i, p := range svc.Spec.Ports {
		if i == 0 || p.Name == "registry" {
			port = p.Port
		}
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port))), nil
}
