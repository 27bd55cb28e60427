// Package registrytest runs the platform's registry for tests: the CNCF
// Distribution binary built from hack/cluster/registry (the module the
// faas-registry image is built from, not linked into the tests) with
// config/registry/config.yml, htpasswd auth on, behind a reverse proxy that
// records every request, so a test can tell whether and how often the
// registry was asked.
//
// It must not be imported by anything but tests.
package registrytest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/minifaas/minifaas/internal/packagebuild"
)

// Build builds the registry binary into a new temporary directory and
// returns its path and a function removing it; call it from TestMain. Later
// builds come from the Go build cache in seconds.
func Build() (string, func(), error) {
	root, err := repoRoot()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "minifaas-registry-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	bin := filepath.Join(dir, "registry")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/distribution/distribution/v3/cmd/registry")
	cmd.Dir = filepath.Join(root, "hack", "cluster", "registry")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("building the registry from %s: %w\n%s", cmd.Dir, err, out)
	}
	return bin, cleanup, nil
}

// repoRoot is the main module's directory, found from the test's own.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not in the main module")
	}
	return filepath.Dir(gomod), nil
}

// Request is one request the registry was sent.
type Request struct {
	Method, Path string
	Status       int
}

// Registry is a running registry.
type Registry struct {
	// Addr is the proxy's host:port, the address to use.
	Addr string
	// Root is the registry's storage directory.
	Root string
	// Credentials is its one account.
	Credentials packagebuild.Credentials

	mu       sync.Mutex // guards requests and hook
	requests []Request
	hook     func(*http.Request)
}

var listening = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

// Start runs the registry bin on a free loopback port, with its own storage
// and htpasswd account, until the test ends; its log is shown if the test
// fails.
func Start(t testing.TB, bin string) *Registry {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	creds := packagebuild.Credentials{Username: "faas", Password: "test-password"}
	// The lowest cost: the registry checks every request's password.
	hash, err := bcrypt.GenerateFromPassword([]byte(creds.Password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(creds.Username+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "storage")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", filepath.Join(root, "config", "registry", "config.yml"))
	cmd.Env = append(os.Environ(),
		"OTEL_TRACES_EXPORTER=none",
		"REGISTRY_HTTP_ADDR=127.0.0.1:0",
		"REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:0",
		"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="+storage,
		"REGISTRY_AUTH_HTPASSWD_REALM=faas-registry",
		"REGISTRY_AUTH_HTPASSWD_PATH="+htpasswd,
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex // guards log
		log    strings.Builder
		addrCh = make(chan string, 1)
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrCh <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("registry log:\n%s", log.String())
			mu.Unlock()
		}
	})
	var direct string
	select {
	case direct = <-addrCh:
	case <-done:
		t.Fatal("the registry exited before listening")
	case <-time.After(30 * time.Second):
		t.Fatal("the registry did not listen within 30s")
	}
	r := &Registry{Root: storage, Credentials: creds}
	target := &url.URL{Scheme: "http", Host: direct}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		// The registry builds upload locations from Host: keep them
		// pointing at the proxy.
		pr.Out.Host = pr.In.Host
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		hook := r.hook
		r.mu.Unlock()
		if hook != nil {
			hook(req)
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(rec, req)
		r.mu.Lock()
		r.requests = append(r.requests, Request{Method: req.Method, Path: req.URL.Path, Status: rec.status})
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.Addr = srv.Listener.Addr().String()
	return r
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// SetHook makes hook run before every request is passed on, in the
// request's goroutine; nil removes it.
func (r *Registry) SetHook(hook func(*http.Request)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = hook
}

// Requests returns the requests answered so far.
func (r *Registry) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Count returns how many requests answered so far match: method ("" for
// any) and a path containing part.
func (r *Registry) Count(method, part string) int {
	n := 0
	for _, q := range r.Requests() {
		if (method == "" || q.Method == method) && strings.Contains(q.Path, part) {
			n++
		}
	}
	return n
}

// Reset forgets the requests recorded so far.
func (r *Registry) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
}

// Repository returns an authenticated client of repository.
func (r *Registry) Repository(t testing.TB, repository string) *remote.Repository {
	t.Helper()
	repo, err := packagebuild.RegistryRepository(r.Addr, repository, r.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}
