//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/kube"
	"github.com/minifaas/minifaas/internal/resources"
)

// Network isolation of runner pods (resources/networkpolicy.go), enforced
// by the local cluster's kube-router. A blocked connection is refused
// (kube-router rejects it) or times out, depending on the implementation;
// every test therefore pairs each "blocked" with a "connected" that shows
// the same path works where the policy allows it.

// dialTimeout bounds one connection attempt made from inside a pod.
const dialTimeout = "2"

// netProbeServer is a stand-in runner: it serves HTTP on the ports given as
// arguments and answers GET /connect?addr=HOST:PORT with what a TCP
// connection from the pod to addr did: connected, refused, timeout or
// error. It needs only Python's standard library (the runner image).
const netProbeServer = `
import http.server, socket, sys, threading, urllib.parse

def dial(addr):
    host, port = addr.rsplit(":", 1)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=` + dialTimeout + `).close()
        return "connected"
    except socket.timeout:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "error: %s" % e

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        body = (dial(q["addr"][0]) if u.path == "/connect" else "ok").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

servers = [http.server.ThreadingHTTPServer(("", int(p)), Handler) for p in sys.argv[1:]]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
`

// netDialCode is a Function that reports what a TCP connection from its
// pod to ?addr=HOST:PORT did, like netProbeServer's /connect.
const netDialCode = `import socket

def handle(req):
    host, port = req.query["addr"].rsplit(":", 1)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=` + dialTimeout + `).close()
        return "connected"
    except socket.timeout:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "error: %s" % e
`

// netProbePod runs netProbeServer in ns with labels, serving the first of
// ports as "http" and the second, if any, as "admin", where the kubelet
// probes its readiness, and returns its IP once it is ready. Its readiness
// therefore shows that the kubelet's probes pass the pod's policy.
func netProbePod(t *testing.T, ns, name string, labels map[string]string, ports ...int32) string {
	t.Helper()
	args := []string{"python3", "-c", netProbeServer}
	var cports []corev1.ContainerPort
	for i, p := range ports {
		args = append(args, strconv.Itoa(int(p)))
		cports = append(cports, corev1.ContainerPort{Name: []string{"http", "admin"}[i], ContainerPort: p})
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext:              &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532)},
			Containers: []corev1.Container{{
				Name: "probe", Image: runnerImage, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: args, Ports: cports,
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(ports[len(ports)-1])}},
					PeriodSeconds: 1,
				},
			}},
		},
	}
	if err := k8s.Create(context.Background(), pod); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	var ip string
	eventually(t, 60*time.Second, "pod "+name+" ready", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		if !kube.PodReady(pod) || pod.Status.PodIP == "" {
			return fmt.Errorf("phase %s, not ready", pod.Status.Phase)
		}
		ip = pod.Status.PodIP
		return nil
	})
	return ip
}

// expectDial waits until dial(addr) reports connected (want true) or
// anything else (want false), and returns the last answer.
func expectDial(t *testing.T, what string, want bool, dial func() (string, error)) {
	t.Helper()
	var got string
	eventually(t, 30*time.Second, what, func() error {
		var err error
		if got, err = dial(); err != nil {
			return err
		}
		if (got == "connected") != want {
			return fmt.Errorf("answered %q", got)
		}
		return nil
	})
	t.Logf("%s: %s", what, got)
}

// fromProbe dials addr from inside the netProbePod at ip, asking it from
// the host: the host reaches pods under a policy.
func fromProbe(ip, addr string) func() (string, error) {
	return func() (string, error) {
		return get("http://" + net.JoinHostPort(ip, "8080") + "/connect?addr=" + url.QueryEscape(addr))
	}
}

// apiServerAddrs returns the API server as pods reach it: the kubernetes
// Service's ClusterIP:port and every endpoint address:port.
func apiServerAddrs(t *testing.T) []string {
	t.Helper()
	svc, slices := apiServer(t)
	addrs := []string{net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(svc.Spec.Ports[0].Port)))}
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			for _, a := range ep.Addresses {
				addrs = append(addrs, net.JoinHostPort(a, strconv.Itoa(int(*s.Ports[0].Port))))
			}
		}
	}
	if len(addrs) < 2 {
		t.Fatalf("the API server has no endpoint: %v", addrs)
	}
	return addrs
}

// apiServer returns the kubernetes Service and its EndpointSlices.
func apiServer(t *testing.T) (corev1.Service, []discoveryv1.EndpointSlice) {
	t.Helper()
	ctx := context.Background()
	var svc corev1.Service
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "default", Name: "kubernetes"}, &svc); err != nil {
		t.Fatal(err)
	}
	var eps discoveryv1.EndpointSliceList
	if err := k8s.List(ctx, &eps, client.InNamespace("default"),
		client.MatchingLabels{discoveryv1.LabelServiceName: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	return svc, eps.Items
}

// waitNetworkPolicy waits until the operator made the NetworkPolicy ns/name.
func waitNetworkPolicy(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, 30*time.Second, "NetworkPolicy "+name, func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &networkingv1.NetworkPolicy{})
	})
}

// TestNetworkPolicyMechanics checks the policies the operator makes on the
// real cluster with stand-in pods labelled as runner, pool and gateway
// pods, so it needs no working runner: the operator runs out of cluster
// with a test namespace as its system namespace, where two stand-in
// gateway pods run under config/gateway/networkpolicy.yaml. It scales the
// in-cluster operator to zero while it runs, and restores it.
func TestNetworkPolicyMechanics(t *testing.T) {
	withoutInClusterOperator(t)
	ctx := context.Background()
	sys := newNamespace(t, "netsys")
	ns := newNamespace(t, "net")
	startProcess(t, "operator", operatorBin, "--namespace", ns, "--system-namespace", sys,
		"--python-image", runnerImage, "--health-probe-bind-address", "0", "--metrics-bind-address", "0")

	// The stand-in pool pod comes first: a pool of size 1 that already has
	// it makes no pod of its own (the runner's) and deletes none.
	idle := netProbePod(t, ns, "pool-1", map[string]string{
		resources.PoolLabel: "python", resources.PoolStateLabel: resources.PoolIdle, resources.ComponentLabel: "pool",
	}, 8080, 8081)
	pool := &faasv1.RuntimePool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "python"},
		Spec: faasv1.RuntimePoolSpec{Size: ptr.To[int32](1)}}
	if err := k8s.Create(ctx, pool); err != nil {
		t.Fatalf("create RuntimePool: %v", err)
	}
	createFunction(t, ns, "a", helloCode)
	createFunction(t, ns, "b", helloCode, func(f *faasv1.Function) { f.Spec.Egress.AllowAPIServer = true })
	for _, name := range []string{"fn-a", "fn-b", "pool-python"} {
		waitNetworkPolicy(t, ns, name)
	}
	kubectl(t, "apply", "-n", sys, "-f", filepath.Join(repoRoot, "config", "gateway", "networkpolicy.yaml"))

	fnLabels := func(name string) map[string]string {
		return map[string]string{resources.FunctionLabel: name, resources.ComponentLabel: "function"}
	}
	a := netProbePod(t, ns, "a-1", fnLabels("a"), 8080, 8081)
	b := netProbePod(t, ns, "b-1", fnLabels("b"), 8080, 8081)
	other := netProbePod(t, ns, "other", map[string]string{"app": "other"}, 8080)
	gw := netProbePod(t, sys, "gw-1", gatewayLabels, 8000, 9090)
	gw2 := netProbePod(t, sys, "gw-2", gatewayLabels, 8000, 9090)
	gwDial := func(ip, addr string) func() (string, error) {
		return func() (string, error) {
			return get("http://" + net.JoinHostPort(ip, "8000") + "/connect?addr=" + url.QueryEscape(addr))
		}
	}
	api := apiServerAddrs(t)

	// The gateway reaches runner pods on both ports; nothing else does.
	for _, target := range []struct{ name, ip string }{{"function", a}, {"pool", idle}} {
		for _, port := range []string{"8080", "8081"} {
			addr := net.JoinHostPort(target.ip, port)
			expectDial(t, "gateway -> "+target.name+" pod :"+port, true, gwDial(gw, addr))
			expectDial(t, "another function's pod -> "+target.name+" pod :"+port, false, fromProbe(b, addr))
			expectDial(t, "a pod without policy -> "+target.name+" pod :"+port, false, fromProbe(other, addr))
		}
	}
	expectDial(t, "pool pod -> function pod", false, fromProbe(idle, net.JoinHostPort(a, "8080")))
	// The host reaches them through their Service too (kube-proxy).
	waitAnswer(t, serviceURL(t, ns, "a"), "ok", 10*time.Second)

	// Egress: other pods and the gateway's public port, yes; the gateway's
	// admin port only from the gateway; the API server only when opted out.
	expectDial(t, "function pod -> pod without policy", true, fromProbe(a, net.JoinHostPort(other, "8080")))
	expectDial(t, "function pod -> gateway :8000", true, fromProbe(a, net.JoinHostPort(gw, "8000")))
	expectDial(t, "function pod -> gateway admin :9090", false, fromProbe(a, net.JoinHostPort(gw, "9090")))
	expectDial(t, "gateway -> gateway admin :9090", true, gwDial(gw2, net.JoinHostPort(gw, "9090")))
	for _, addr := range api {
		expectDial(t, "function pod -> API server "+addr, false, fromProbe(a, addr))
		expectDial(t, "pool pod -> API server "+addr, false, fromProbe(idle, addr))
		expectDial(t, "opted-out function pod -> API server "+addr, true, fromProbe(b, addr))
		expectDial(t, "pod without policy -> API server "+addr, true, fromProbe(other, addr))
	}

	// Opting in again takes the API server away at once.
	kubectl(t, "patch", "fn", "b", "-n", ns, "--type=merge", "-p", `{"spec":{"egress":{"allowAPIServer":false}}}`)
	for _, addr := range api {
		expectDial(t, "function pod that opted in again -> API server "+addr, false, fromProbe(b, addr))
	}
}

// TestNetworkFunctionEgress is the same with real functions behind the
// in-cluster gateway: each call goes through the gateway to the runner,
// and the function's own code reports what its connections did.
func TestNetworkFunctionEgress(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "netfn")
	createFunction(t, ns, "dial", netDialCode)
	createFunction(t, ns, "dialapi", netDialCode, func(f *faasv1.Function) { f.Spec.Egress.AllowAPIServer = true })
	createFunction(t, ns, "hello", helloCode)
	callDial := func(fn, addr string) func() (string, error) {
		return func() (string, error) {
			return get(gw + "/invoke/" + fn + "." + ns + "?addr=" + url.QueryEscape(addr))
		}
	}
	if got := httpGet(t, gw+"/invoke/hello."+ns); got != "hello from runner" {
		t.Fatalf("hello through the gateway answered %q", got)
	}
	hello := readyPodIP(t, ns, map[string]string{resources.FunctionLabel: "hello"})

	var gwPods corev1.PodList
	if err := k8s.List(context.Background(), &gwPods, client.InNamespace("faas-system"), client.MatchingLabels(gatewayLabels)); err != nil {
		t.Fatal(err)
	}
	var gwIP string
	for _, p := range gwPods.Items {
		if kube.PodReady(&p) {
			gwIP = p.Status.PodIP
		}
	}
	if gwIP == "" {
		t.Fatal("no ready gateway pod")
	}

	for _, addr := range apiServerAddrs(t) {
		expectDial(t, "function -> API server "+addr, false, callDial("dial", addr))
		expectDial(t, "function with allowAPIServer -> API server "+addr, true, callDial("dialapi", addr))
	}
	for _, port := range []string{"8080", "8081"} {
		expectDial(t, "function -> another function's pod :"+port, false, callDial("dial", net.JoinHostPort(hello, port)))
	}
	expectDial(t, "function -> gateway :8000", true, callDial("dial", net.JoinHostPort(gwIP, "8000")))
	expectDial(t, "function -> gateway admin :9090", false, callDial("dial", net.JoinHostPort(gwIP, "9090")))
	if got := httpGet(t, gw+"/invoke/hello."+ns); !strings.Contains(got, "hello") {
		t.Errorf("hello answered %q after the checks", got)
	}
}
