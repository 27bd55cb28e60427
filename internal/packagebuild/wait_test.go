package packagebuild_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/registrytest"
)

// freeAddr returns a loopback address nothing listens on, for now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// serveLate serves h on addr from now until the test ends.
func serveLate(t *testing.T, addr string, h http.Handler) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// TestBuildStepWaitsForTheRegistry: a new build pod's network may admit
// it a moment after it starts, and until then its connections are
// refused. The step must keep trying, not fail.
func TestBuildStepWaitsForTheRegistry(t *testing.T) {
	reg := registrytest.Start(t)
	source := pushSource(t, reg.Repository(t, repository), code, requirements)
	s := step(reg, t)
	s.Registry, s.ConnectWait = freeAddr(t), 30*time.Second

	done := make(chan error, 1)
	go func() {
		done <- packagebuild.FetchStep{Step: s, Digest: source.String(), Dest: filepath.Join(t.TempDir(), "src")}.Run(t.Context())
	}()
	// The registry comes up late: the step's first attempts are
	// refused (a real delay: there is no event to wait for on a port
	// nobody listens on).
	time.Sleep(3 * 200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("build-fetch ended before the registry listened: %v", err)
	default:
	}
	target := &url.URL{Scheme: "http", Host: reg.Addr}
	serveLate(t, s.Registry, &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}})
	if err := <-done; err != nil {
		t.Fatalf("build-fetch = %v, want it to wait for the registry", err)
	}
}

func TestBuildStepGivesUpOnAnUnreachableRegistry(t *testing.T) {
	s := packagebuild.Step{Registry: freeAddr(t), PlainHTTP: true, Repository: repository, CredentialsDir: t.TempDir(), ConnectWait: 500 * time.Millisecond}
	writeTree(t, s.CredentialsDir, map[string]string{"username": "faas", "password": "x"})
	work := t.TempDir()
	_, err := packagebuild.PushStep{Step: s, Source: "sha256:" + strings.Repeat("a", 64), Deps: filepath.Join(work, "deps"), TmpDir: t.TempDir()}.Run(t.Context())
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "not reachable within 500ms") {
		t.Errorf("build-push = %v, want connection refused after waiting 500ms", err)
	}
}

func TestWaitForRegistryTakesAnyAnswer(t *testing.T) {
	addr := freeAddr(t)
	asked := make(chan struct{}, 10)
	serveLate(t, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		w.Header().Set("WWW-Authenticate", `Basic realm="faas-registry"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}))
	client := packagebuild.NewClient(addr, packagebuild.Credentials{Username: "faas", Password: "wrong"}, packagebuild.ClientOptions{})
	if err := packagebuild.WaitForRegistry(t.Context(), addr, client, true, time.Minute); err != nil {
		t.Errorf("WaitForRegistry of a registry answering 401 = %v, want nil: it is reachable", err)
	}
	if len(asked) == 0 {
		t.Error("the registry was not asked")
	}
	if err := packagebuild.WaitForRegistry(t.Context(), freeAddr(t), client, true, 0); err != nil {
		t.Errorf("WaitForRegistry without a wait = %v, want nil (no ping)", err)
	}
}
