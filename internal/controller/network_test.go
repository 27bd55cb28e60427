package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// apiServerBlocks returns what every runner pod's policy must block of the
// envtest API server: the kubernetes Service's ClusterIPs and endpoints.
func apiServerBlocks(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	var svc corev1.Service
	if err := k8s.Get(ctx, key(metav1.NamespaceDefault, "kubernetes"), &svc); err != nil {
		t.Fatalf("get Service kubernetes: %v", err)
	}
	var out []string
	for _, ip := range svc.Spec.ClusterIPs {
		out = append(out, ip+"/32")
	}
	var eps discoveryv1.EndpointSliceList
	if err := k8s.List(ctx, &eps, client.InNamespace(metav1.NamespaceDefault),
		client.MatchingLabels{discoveryv1.LabelServiceName: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range eps.Items {
		for _, ep := range s.Endpoints {
			for _, a := range ep.Addresses {
				out = append(out, a+"/32")
			}
		}
	}
	if len(out) < 2 {
		t.Fatalf("the API server lists %v, want its ClusterIP and at least one endpoint", out)
	}
	return out
}

// ipv4Blocked returns the except list of the policy's 0.0.0.0/0 egress.
func ipv4Blocked(np *networkingv1.NetworkPolicy) []string {
	for _, r := range np.Spec.Egress {
		for _, p := range r.To {
			if p.IPBlock != nil && p.IPBlock.CIDR == "0.0.0.0/0" {
				return p.IPBlock.Except
			}
		}
	}
	return nil
}

// waitPolicy waits until the NetworkPolicy ns/name exists and check holds.
func waitPolicy(t *testing.T, ns, name string, check func(*networkingv1.NetworkPolicy) error) *networkingv1.NetworkPolicy {
	t.Helper()
	var np networkingv1.NetworkPolicy
	eventually(t, "NetworkPolicy "+name, func() error {
		if err := k8s.Get(context.Background(), key(ns, name), &np); err != nil {
			return err
		}
		return check(&np)
	})
	return &np
}

// blocks fails unless the policy's IPv4 egress blocks every one of addrs
// (and the metadata address) or, with want false, none of addrs.
func blocks(addrs []string, want bool) func(*networkingv1.NetworkPolicy) error {
	return func(np *networkingv1.NetworkPolicy) error {
		except := ipv4Blocked(np)
		for _, a := range addrs {
			if slices.Contains(except, a) != want {
				return fmt.Errorf("egress blocks %v; want %s blocked: %v", except, a, want)
			}
		}
		if !slices.Contains(except, "169.254.169.254/32") {
			return fmt.Errorf("egress blocks %v, not the metadata address", except)
		}
		return nil
	}
}

func TestFunctionGetsNetworkPolicyFollowingItsEgressOptOut(t *testing.T) {
	fn := newFunction(t)
	ctx := context.Background()
	api := apiServerBlocks(t)

	np := waitPolicy(t, fn.Namespace, "fn-hello", blocks(api, true))
	if ref := metav1.GetControllerOf(np); ref == nil || ref.Kind != "Function" || ref.Name != "hello" {
		t.Errorf("controller = %+v, want Function hello", ref)
	}
	if np.Spec.PodSelector.MatchLabels[resources.FunctionLabel] != "hello" {
		t.Errorf("podSelector = %+v, want the function's pods", np.Spec.PodSelector)
	}

	patch := []byte(`{"spec":{"egress":{"allowAPIServer":true}}}`)
	if err := k8s.Patch(ctx, fn, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatalf("opt out of the API server block: %v", err)
	}
	waitPolicy(t, fn.Namespace, "fn-hello", blocks(api, false))

	// Edited by hand: the operator puts the blocks back.
	patch = []byte(`{"spec":{"egress":{"allowAPIServer":false}}}`)
	if err := k8s.Patch(ctx, fn, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	np = waitPolicy(t, fn.Namespace, "fn-hello", blocks(api, true))
	np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{}}
	if err := k8s.Update(ctx, np); err != nil {
		t.Fatalf("edit NetworkPolicy: %v", err)
	}
	waitPolicy(t, fn.Namespace, "fn-hello", blocks(api, true))
}

func TestPoolGetsNetworkPolicyForItsIdlePods(t *testing.T) {
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "np-" + hex.EncodeToString(b)}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	pool := &faasv1.RuntimePool{ObjectMeta: metav1.ObjectMeta{Name: "python", Namespace: ns.Name},
		Spec: faasv1.RuntimePoolSpec{Size: ptr.To[int32](1)}}
	if err := k8s.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	np := waitPolicy(t, ns.Name, "pool-python", blocks(apiServerBlocks(t), true))
	if ref := metav1.GetControllerOf(np); ref == nil || ref.Kind != "RuntimePool" || ref.Name != "python" {
		t.Errorf("controller = %+v, want RuntimePool python", ref)
	}
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range waitIdlePods(t, pool, 1) {
		if !sel.Matches(labels.Set(p.Labels)) {
			t.Errorf("pool pod %s (%v) is not selected by %s", p.Name, p.Labels, sel)
		}
	}
}

// TestPoliciesFollowTheAPIServersAddresses adds an address to the API
// server's EndpointSlices, as a new control plane node would, and waits for
// every runner pod's policy to block it, and to drop it when it goes.
func TestPoliciesFollowTheAPIServersAddresses(t *testing.T) {
	fn := newFunction(t)
	ctx := context.Background()
	waitPolicy(t, fn.Namespace, "fn-hello", blocks(apiServerBlocks(t), true))

	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes-test", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.10"}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To[int32](6443)}},
	}
	if err := k8s.Create(ctx, slice); err != nil {
		t.Fatalf("create EndpointSlice: %v", err)
	}
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			_ = k8s.Delete(context.Background(), slice)
		}
	})
	waitPolicy(t, fn.Namespace, "fn-hello", blocks([]string{"192.0.2.10/32"}, true))

	if err := k8s.Delete(ctx, slice); err != nil {
		t.Fatal(err)
	}
	deleted = true
	waitPolicy(t, fn.Namespace, "fn-hello", blocks([]string{"192.0.2.10/32"}, false))
}
