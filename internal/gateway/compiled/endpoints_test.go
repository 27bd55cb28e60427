package compiled

import (
	"slices"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func slice(name string, port int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Ports:      []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port)}},
		Endpoints:  eps,
	}
}

func ep(ip string, ready bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}}
}

func TestEndpointsGiveReadyCompilersInTurn(t *testing.T) {
	e := NewEndpoints(8092)
	if _, ok := e.Addr(); ok {
		t.Fatal("an address before any slice")
	}
	e.OnSlice(slice("s1", 9000, ep("10.0.0.1", true), ep("10.0.0.2", false)), false)
	e.OnSlice(slice("s2", 9000, ep("10.0.0.3", true)), false)
	var got []string
	for range 4 {
		a, ok := e.Addr()
		if !ok {
			t.Fatal("no address")
		}
		got = append(got, a)
	}
	slices.Sort(got)
	want := []string{"10.0.0.1:9000", "10.0.0.1:9000", "10.0.0.3:9000", "10.0.0.3:9000"}
	if !slices.Equal(got, want) {
		t.Errorf("addresses %v, want %v (the not-ready one never)", got, want)
	}
	e.OnSlice(slice("s1", 9000), true)
	e.OnSlice(slice("s2", 9000, ep("10.0.0.3", false)), false)
	if a, ok := e.Addr(); ok {
		t.Errorf("Addr = %s with no ready compiler", a)
	}
}
