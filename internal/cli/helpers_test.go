package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/cli/kubeconn"
)

// testNow is the clock of every test: ages are stable.
var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// harness runs faas commands against fake clients.
type harness struct {
	t         *testing.T
	client    client.WithWatch
	clientset *kubefake.Clientset
	env       *Env
	out, err  *bytes.Buffer
	getenv    map[string]string
}

type harnessOption func(*harnessConfig)

type harnessConfig struct {
	objs      []client.Object
	funcs     *interceptor.Funcs
	clientset []k8sruntime.Object
}

func withObjects(objs ...client.Object) harnessOption {
	return func(c *harnessConfig) { c.objs = append(c.objs, objs...) }
}

func withInterceptor(f interceptor.Funcs) harnessOption {
	return func(c *harnessConfig) { c.funcs = &f }
}

func withClientset(objs ...k8sruntime.Object) harnessOption {
	return func(c *harnessConfig) { c.clientset = append(c.clientset, objs...) }
}

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	var cfg harnessConfig
	for _, o := range opts {
		o(&cfg)
	}
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := faasv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(scheme).WithObjects(cfg.objs...).WithStatusSubresource(&faasv1.Function{})
	if cfg.funcs != nil {
		b = b.WithInterceptorFuncs(*cfg.funcs)
	}
	h := &harness{t: t, client: b.Build(), clientset: kubefake.NewClientset(cfg.clientset...),
		out: &bytes.Buffer{}, err: &bytes.Buffer{}, getenv: map[string]string{}}
	h.env = &Env{
		In: strings.NewReader(""), Out: h.out, ErrOut: h.err,
		Getenv: func(k string) string { return h.getenv[k] },
		Now:    func() time.Time { return testNow },
		Connect: func(f *kubeconn.Flags) (*kubeconn.Conn, error) {
			ns := f.Namespace
			if ns == "" {
				ns = "default"
			}
			return &kubeconn.Conn{Namespace: ns, Host: "https://fake", Client: h.client, Clientset: h.clientset}, nil
		},
		PollInterval: time.Millisecond,
		Version:      "test",
	}
	return h
}

// run runs faas with args and returns its exit code.
func (h *harness) run(args ...string) int {
	h.t.Helper()
	h.out.Reset()
	h.err.Reset()
	return Main(context.Background(), args, h.env)
}

// mustRun runs faas and fails the test unless it exits 0.
func (h *harness) mustRun(args ...string) string {
	h.t.Helper()
	if code := h.run(args...); code != 0 {
		h.t.Fatalf("faas %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, h.out, h.err)
	}
	return h.out.String()
}
