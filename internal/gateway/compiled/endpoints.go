package compiled

import (
	"net"
	"slices"
	"strconv"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
)

// Endpoints are the compiler's ready addresses, from the EndpointSlices of
// its Service: pods are asked directly, so no cluster DNS or ClusterIP is
// needed.
type Endpoints struct {
	port int // the compiler's port, when a slice does not name it

	mu     sync.Mutex
	slices map[string][]string // slice name -> ready host:port; guarded by mu
	next   int                 // round robin over ready addresses; guarded by mu
}

// NewEndpoints makes Endpoints of a compiler listening on port.
func NewEndpoints(port int) *Endpoints {
	return &Endpoints{port: port, slices: map[string][]string{}}
}

// OnSlice records one EndpointSlice of the compiler's Service.
func (e *Endpoints) OnSlice(slice *discoveryv1.EndpointSlice, deleted bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if deleted {
		delete(e.slices, slice.Name)
		return
	}
	port := e.port
	if len(slice.Ports) == 1 && slice.Ports[0].Port != nil {
		port = int(*slice.Ports[0].Port)
	}
	var addrs []string
	for _, ep := range slice.Endpoints {
		if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
			continue
		}
		for _, ip := range ep.Addresses {
			addrs = append(addrs, net.JoinHostPort(ip, strconv.Itoa(port)))
		}
	}
	e.slices[slice.Name] = addrs
}

// Addr returns a ready compiler's host:port, taking each in turn.
func (e *Endpoints) Addr() (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var all []string
	for _, addrs := range e.slices {
		all = append(all, addrs...)
	}
	if len(all) == 0 {
		return "", false
	}
	slices.Sort(all)
	e.next++
	return all[e.next%len(all)], true
}
