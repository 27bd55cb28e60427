package gateway

import (
	"net"
	"strconv"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/minifaas/minifaas/internal/gateway/autoscaler"
)

// peers are the other gateway replicas, from the EndpointSlices of the
// headless peer Service, which lists every replica's admin port whether
// ready or terminating: a terminating replica still holds calls.
type peers struct {
	self string // this replica's IP, left out
	port int    // the admin port, when a slice does not name it

	mu     sync.Mutex
	slices map[string][]string // slice name -> admin addresses; guarded by mu
}

var _ autoscaler.Peers = (*peers)(nil)

func newPeers(self string, port int) *peers {
	return &peers{self: self, port: port, slices: map[string][]string{}}
}

// OnSlice records one EndpointSlice of the peer Service.
func (p *peers) OnSlice(slice *discoveryv1.EndpointSlice, deleted bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if deleted {
		delete(p.slices, slice.Name)
		return
	}
	port := p.port
	for _, sp := range slice.Ports {
		if sp.Port != nil && sp.Name != nil && *sp.Name == "admin" {
			port = int(*sp.Port)
		}
	}
	var addrs []string
	for _, ep := range slice.Endpoints {
		for _, ip := range ep.Addresses {
			if ip != p.self {
				addrs = append(addrs, net.JoinHostPort(ip, strconv.Itoa(port)))
			}
		}
	}
	p.slices[slice.Name] = addrs
}

// PeerAddrs returns the other replicas' admin addresses.
func (p *peers) PeerAddrs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, addrs := range p.slices {
		out = append(out, addrs...)
	}
	return out
}
