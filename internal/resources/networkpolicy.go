package resources

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// Network isolation of runner pods. Every runner pod, a Function's or an
// idle pool pod, is selected by one NetworkPolicy that
//
//   - admits connections to the call and admin ports from the gateway's pods
//     only. Connections from the pod's own node, the kubelet's probes among
//     them, are not subject to NetworkPolicies in the usual implementations
//     (kube-router, Calico, Cilium) and need no rule;
//   - lets the pod connect anywhere but the API server and the cloud
//     metadata address, unless its Function opts out (spec.egress). Egress
//     rules are matched on the address a packet goes to after the Service
//     proxy translated it, so the API server is blocked both at the
//     kubernetes Service's ClusterIP and at its endpoints.
//
// DNS keeps working: it goes to cluster DNS pods or their Service, never to
// a blocked address. Other pods stay reachable for egress (each pod's own
// ingress rules decide), also on implementations whose ipBlocks do not
// cover pod addresses, through the rule's all-namespaces peer.

// GatewayPodLabels select the gateway's pods in the gateway's namespace;
// they are the labels of config/gateway/deployment.yaml.
var GatewayPodLabels = map[string]string{"app.kubernetes.io/name": "faas-gateway"}

// CloudMetadata are the cloud metadata addresses a runner pod may not reach
// unless its Function sets spec.egress.allowCloudMetadata: 169.254.169.254
// on every major cloud, and fd00:ec2::254 for IPv6 on AWS.
var CloudMetadata = []netip.Prefix{
	netip.MustParsePrefix("169.254.169.254/32"),
	netip.MustParsePrefix("fd00:ec2::254/128"),
}

// Isolation is what the runner pods' NetworkPolicies need to know of the
// cluster.
type Isolation struct {
	// GatewayNamespace is the namespace of the gateway's pods.
	GatewayNamespace string
	// APIServer are the addresses at which pods reach the API server.
	APIServer []netip.Prefix
}

// NetworkPolicyName is the name of the Function's NetworkPolicy.
func NetworkPolicyName(fn *faasv1.Function) string { return "fn-" + fn.Name }

// PoolNetworkPolicyName is the name of the NetworkPolicy of pool's idle pods.
func PoolNetworkPolicyName(pool *faasv1.RuntimePool) string { return "pool-" + pool.Name }

// MakeNetworkPolicy builds the NetworkPolicy of the Function's pods, those
// of its Deployment and the pool pods handed to it, with the egress blocks
// its spec.egress leaves in place.
func MakeNetworkPolicy(fn *faasv1.Function, iso Isolation) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      NetworkPolicyName(fn),
			Namespace: fn.Namespace,
			Labels:    Labels(fn),
		},
		Spec: runnerPolicySpec(SelectorLabels(fn), fn.Spec.Egress, iso),
	}
}

// MakePoolNetworkPolicy builds the NetworkPolicy of pool's idle pods: they
// have no function yet, so every egress block applies. A pod handed to a
// function leaves the pool's idle pods and is its function's.
func MakePoolNetworkPolicy(pool *faasv1.RuntimePool, iso Isolation) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      PoolNetworkPolicyName(pool),
			Namespace: pool.Namespace,
			Labels: map[string]string{
				PoolLabel:      pool.Name,
				ComponentLabel: "pool",
				ManagedByLabel: ManagedBy,
			},
		},
		Spec: runnerPolicySpec(map[string]string{PoolLabel: pool.Name, PoolStateLabel: PoolIdle}, faasv1.FunctionEgress{}, iso),
	}
}

// runnerPolicySpec is the policy of the runner pods selected by selector:
// ingress from the gateway, egress anywhere but the blocked addresses.
func runnerPolicySpec(selector map[string]string, egress faasv1.FunctionEgress, iso Isolation) networkingv1.NetworkPolicySpec {
	tcp := corev1.ProtocolTCP
	v4, v6 := blockedEgress(egress, iso)
	return networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: selector},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
					corev1.LabelMetadataName: iso.GatewayNamespace,
				}},
				PodSelector: &metav1.LabelSelector{MatchLabels: GatewayPodLabels},
			}},
			Ports: []networkingv1.NetworkPolicyPort{
				{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(runnerapi.CallPort))},
				{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(runnerapi.AdminPort))},
			},
		}},
		Egress: []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{
				{NamespaceSelector: &metav1.LabelSelector{}},
				{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: v4}},
				{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: v6}},
			},
		}},
	}
}

// blockedEgress returns the addresses a runner pod with egress may not
// reach, IPv4 and IPv6 apart, sorted and without duplicates so that an
// unchanged policy is applied unchanged.
func blockedEgress(egress faasv1.FunctionEgress, iso Isolation) (v4, v6 []string) {
	var blocked []netip.Prefix
	if !egress.AllowAPIServer {
		blocked = append(blocked, iso.APIServer...)
	}
	if !egress.AllowCloudMetadata {
		blocked = append(blocked, CloudMetadata...)
	}
	for _, p := range blocked {
		if p = p.Masked(); p.Addr().Is4() {
			v4 = append(v4, p.String())
		} else {
			v6 = append(v6, p.String())
		}
	}
	slices.Sort(v4)
	slices.Sort(v6)
	return slices.Compact(v4), slices.Compact(v6)
}

// BuildNetworkPolicyName is the name of the NetworkPolicy of build pods.
const BuildNetworkPolicyName = "faas-builds"

// MakeBuildNetworkPolicy builds the NetworkPolicy of the package build pods
// in the platform's namespace: nothing may connect to them, and they may
// connect anywhere (pip's index) but the API server and the cloud metadata
// address, like a runner pod.
func MakeBuildNetworkPolicy(namespace string, iso Isolation) *networkingv1.NetworkPolicy {
	spec := runnerPolicySpec(map[string]string{ComponentLabel: "build", ManagedByLabel: ManagedBy}, faasv1.FunctionEgress{}, iso)
	spec.Ingress = nil
	return &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      BuildNetworkPolicyName,
			Namespace: namespace,
			Labels:    map[string]string{ComponentLabel: "build", ManagedByLabel: ManagedBy},
		},
		Spec: spec,
	}
}
