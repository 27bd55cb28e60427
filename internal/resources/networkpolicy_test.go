package resources

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// testIsolation is a cluster whose API server is the Service 10.96.0.1
// and the endpoint 10.88.0.1 (listed twice, as a Service's ClusterIPs and
// endpoints can overlap), plus an IPv6 endpoint.
var testIsolation = Isolation{
	GatewayNamespace: "faas-system",
	APIServer: []netip.Prefix{
		netip.MustParsePrefix("10.96.0.1/32"),
		netip.MustParsePrefix("10.88.0.1/32"),
		netip.MustParsePrefix("fd00:10::1/128"),
		netip.MustParsePrefix("10.88.0.1/32"),
	},
}

// egressExcept returns the except lists of the policy's IPv4 and IPv6
// ipBlocks, and fails the test unless egress is one rule to every pod and
// to both address families' whole range.
func egressExcept(t *testing.T, spec networkingv1.NetworkPolicySpec) (v4, v6 []string) {
	t.Helper()
	if len(spec.Egress) != 1 || len(spec.Egress[0].Ports) != 0 {
		t.Fatalf("egress = %+v, want one rule on every port", spec.Egress)
	}
	var v4Seen, v6Seen, podsSeen bool
	for _, peer := range spec.Egress[0].To {
		switch {
		case peer.IPBlock != nil && peer.IPBlock.CIDR == "0.0.0.0/0":
			v4, v4Seen = peer.IPBlock.Except, true
		case peer.IPBlock != nil && peer.IPBlock.CIDR == "::/0":
			v6, v6Seen = peer.IPBlock.Except, true
		case peer.NamespaceSelector != nil && len(peer.NamespaceSelector.MatchLabels) == 0 &&
			len(peer.NamespaceSelector.MatchExpressions) == 0 && peer.PodSelector == nil:
			podsSeen = true
		default:
			t.Errorf("unexpected egress peer %+v", peer)
		}
	}
	if !v4Seen || !v6Seen || !podsSeen {
		t.Errorf("egress peers = %+v, want every pod, 0.0.0.0/0 and ::/0", spec.Egress[0].To)
	}
	return v4, v6
}

// checkGatewayOnlyIngress fails the test unless ingress admits the gateway's
// pods, and nothing else, on the call and admin ports.
func checkGatewayOnlyIngress(t *testing.T, spec networkingv1.NetworkPolicySpec) {
	t.Helper()
	if !slices.Equal(spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policyTypes = %v, want Ingress and Egress", spec.PolicyTypes)
	}
	if len(spec.Ingress) != 1 || len(spec.Ingress[0].From) != 1 {
		t.Fatalf("ingress = %+v, want one rule with one peer", spec.Ingress)
	}
	peer := spec.Ingress[0].From[0]
	if peer.IPBlock != nil || peer.NamespaceSelector == nil || peer.PodSelector == nil ||
		peer.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != "faas-system" ||
		len(peer.NamespaceSelector.MatchLabels) != 1 ||
		peer.PodSelector.MatchLabels["app.kubernetes.io/name"] != "faas-gateway" ||
		len(peer.PodSelector.MatchLabels) != 1 {
		t.Errorf("ingress peer = %+v, want the faas-gateway pods of faas-system", peer)
	}
	var ports []int32
	for _, p := range spec.Ingress[0].Ports {
		if p.Protocol == nil || *p.Protocol != corev1.ProtocolTCP || p.EndPort != nil {
			t.Errorf("ingress port %+v, want a single TCP port", p)
		}
		ports = append(ports, p.Port.IntVal)
	}
	if !slices.Equal(ports, []int32{8080, 8081}) {
		t.Errorf("ingress ports = %v, want the call port 8080 and the admin port 8081", ports)
	}
}

func TestMakeNetworkPolicy(t *testing.T) {
	cases := []struct {
		name   string
		egress faasv1.FunctionEgress
		v4, v6 []string
	}{
		{
			name: "blocks the API server and the metadata address by default",
			v4:   []string{"10.88.0.1/32", "10.96.0.1/32", "169.254.169.254/32"},
			v6:   []string{"fd00:10::1/128", "fd00:ec2::254/128"},
		},
		{
			name:   "allowAPIServer lifts the API server block",
			egress: faasv1.FunctionEgress{AllowAPIServer: true},
			v4:     []string{"169.254.169.254/32"},
			v6:     []string{"fd00:ec2::254/128"},
		},
		{
			name:   "allowCloudMetadata lifts the metadata block",
			egress: faasv1.FunctionEgress{AllowCloudMetadata: true},
			v4:     []string{"10.88.0.1/32", "10.96.0.1/32"},
			v6:     []string{"fd00:10::1/128"},
		},
		{
			name:   "both lift every block",
			egress: faasv1.FunctionEgress{AllowAPIServer: true, AllowCloudMetadata: true},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn := testFunction(func(f *faasv1.Function) { f.Spec.Egress = tc.egress })
			np := MakeNetworkPolicy(fn, testIsolation)
			if np.Name != "fn-hello" || np.Namespace != "ns" {
				t.Errorf("name = %s/%s, want ns/fn-hello", np.Namespace, np.Name)
			}
			if np.Labels[FunctionLabel] != "hello" || np.Labels[ManagedByLabel] != ManagedBy {
				t.Errorf("labels = %v, want function and managed-by labels", np.Labels)
			}
			// The function label alone: it is also on pool pods handed to the function.
			if sel := np.Spec.PodSelector; len(sel.MatchExpressions) != 0 ||
				len(sel.MatchLabels) != 1 || sel.MatchLabels[FunctionLabel] != "hello" {
				t.Errorf("podSelector = %+v, want %s=hello alone", sel, FunctionLabel)
			}
			checkGatewayOnlyIngress(t, np.Spec)
			v4, v6 := egressExcept(t, np.Spec)
			if !slices.Equal(v4, tc.v4) || !slices.Equal(v6, tc.v6) {
				t.Errorf("blocked = %v %v, want %v %v", v4, v6, tc.v4, tc.v6)
			}
		})
	}
}

func TestMakePoolNetworkPolicy(t *testing.T) {
	pool := &faasv1.RuntimePool{
		ObjectMeta: metav1.ObjectMeta{Name: "python", Namespace: "ns"},
		Spec:       faasv1.RuntimePoolSpec{Runtime: faasv1.RuntimePython, Size: ptr.To[int32](2)},
	}
	np := MakePoolNetworkPolicy(pool, testIsolation)
	if np.Name != "pool-python" || np.Namespace != "ns" || np.Labels[ManagedByLabel] != ManagedBy {
		t.Errorf("policy %s/%s labels %v, want ns/pool-python managed by the operator", np.Namespace, np.Name, np.Labels)
	}
	// The pool's idle pods, exactly as MakePoolPod labels them.
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		t.Fatal(err)
	}
	idle := MakePoolPod(pool, "pool-python-abcde", "runner:1", "cafe")
	if !sel.Matches(labels.Set(idle.Labels)) {
		t.Errorf("podSelector %s does not select the pool's idle pods %v", sel, idle.Labels)
	}
	handed := labels.Set{PoolLabel: "python", PoolStateLabel: PoolSpecialized, FunctionLabel: "hello"}
	if sel.Matches(handed) {
		t.Errorf("podSelector %s selects a pod handed to a function; its function's policy is its own", sel)
	}
	checkGatewayOnlyIngress(t, np.Spec)
	v4, v6 := egressExcept(t, np.Spec)
	if want := []string{"10.88.0.1/32", "10.96.0.1/32", "169.254.169.254/32"}; !slices.Equal(v4, want) {
		t.Errorf("IPv4 blocked = %v, want %v: pool pods keep every block", v4, want)
	}
	if want := []string{"fd00:10::1/128", "fd00:ec2::254/128"}; !slices.Equal(v6, want) {
		t.Errorf("IPv6 blocked = %v, want %v", v6, want)
	}
}
