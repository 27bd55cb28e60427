package fetcher

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"oras.land/oras-go/v2/registry/remote"
)

func registryService(ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "faas-system", Name: "faas-registry"},
		Spec:       corev1.ServiceSpec{ClusterIP: ip, Ports: ports},
	}
}

func TestServiceAddress(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		want string
	}{
		{"registry port", registryService("10.0.0.5", corev1.ServicePort{Name: "metrics", Port: 5001}, corev1.ServicePort{Name: "registry", Port: 5000}), "10.0.0.5:5000"},
		{"first port", registryService("10.0.0.5", corev1.ServicePort{Name: "http", Port: 8080}), "10.0.0.5:8080"},
		{"no port", registryService("10.0.0.5"), "10.0.0.5:5000"},
		{"IPv6", registryService("fd00::5", corev1.ServicePort{Port: 5000}), "[fd00::5]:5000"},
		{"headless", registryService(corev1.ClusterIPNone, corev1.ServicePort{Port: 5000}), ""},
		{"no IP", registryService("", corev1.ServicePort{Port: 5000}), ""},
	}
	for _, tc := range tests {
		got, err := serviceAddress(tc.svc)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("%s: serviceAddress = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestServiceRegistryReadsOnceAndAfterForget(t *testing.T) {
	cs := fake.NewClientset(registryService("10.0.0.5", corev1.ServicePort{Name: "registry", Port: 5000}))
	reg := &serviceRegistry{services: cs.CoreV1(), namespace: "faas-system", name: "faas-registry", timeout: DefaultConfig().ResolveTimeout,
		newClient: func(string) remote.Client { return http.DefaultClient }}
	e, err := reg.endpoint(t.Context())
	if err != nil || e.addr != "10.0.0.5:5000" || !e.plainHTTP {
		t.Fatalf("endpoint = %+v, %v", e, err)
	}
	if again, _ := reg.endpoint(t.Context()); again != e || len(cs.Actions()) != 1 {
		t.Errorf("second endpoint read the Service again (%d reads)", len(cs.Actions()))
	}
	if _, err := cs.CoreV1().Services("faas-system").Update(t.Context(), registryService("10.0.0.6", corev1.ServicePort{Port: 5000}), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	reg.forget(e)
	if e, err := reg.endpoint(t.Context()); err != nil || e.addr != "10.0.0.6:5000" {
		t.Errorf("endpoint after forget = %+v, %v", e, err)
	}

	missing := &serviceRegistry{services: fake.NewClientset().CoreV1(), namespace: "faas-system", name: "faas-registry",
		timeout: DefaultConfig().ResolveTimeout, newClient: reg.newClient}
	if _, err := missing.endpoint(t.Context()); !errors.Is(err, errRegistryUnavailable) || statusOf(err) != http.StatusBadGateway {
		t.Errorf("endpoint of a missing Service = %v (status %d), want errRegistryUnavailable, 502", err, statusOf(err))
	}
}

// TestFetchThroughService finds the test registry by a Service whose
// ClusterIP and port are the registry's.
func TestFetchThroughService(t *testing.T) {
	f := startFetcher(t, nil)
	d := f.pushBuilt(t, "default", "hello", code, deps)
	host, port, err := net.SplitHostPort(f.reg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := net.LookupPort("tcp", port)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Namespace, cfg.CacheDir = "faas-system", filepath.Join(t.TempDir(), "cache")
	cs := fake.NewClientset(registryService(host, corev1.ServicePort{Name: "registry", Port: int32(p)}))
	viaService, err := New(cfg, Deps{Credentials: credentials(f.reg), TicketKey: testKey, Services: cs.CoreV1(), Log: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(viaService.Handler())
	t.Cleanup(srv.Close)
	resp, body := (&testFetcher{Fetcher: viaService, reg: f.reg, srv: srv, cfg: cfg}).getPackage(t, "default", "hello", d)
	if resp.StatusCode != http.StatusOK || len(untar(t, body)) != len(wantTar) {
		t.Errorf("GET = %d %s", resp.StatusCode, body)
	}
}

// Credentials of another registry in the Secret win over the Service.
func TestRegistryOverride(t *testing.T) {
	dir := t.TempDir()
	if addr, _, err := registryOverride(dir); addr != "" || err != nil {
		t.Errorf("registryOverride of no files = %q, %v", addr, err)
	}
	writeTree(t, dir, map[string]string{"registry": "ghcr.io/my-org\n"})
	if addr, plain, err := registryOverride(dir); addr != "ghcr.io/my-org" || plain || err != nil {
		t.Errorf("registryOverride = %q, %v, %v", addr, plain, err)
	}
	writeTree(t, dir, map[string]string{"plainHTTP": "true"})
	if _, plain, _ := registryOverride(dir); !plain {
		t.Error("plainHTTP true not read")
	}
}
