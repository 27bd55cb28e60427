package registrytest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Request is one request the registry was sent.
type Request struct {
	Method, Path string
	Status       int
}

// proxy serves a reverse proxy of the registry at direct that records
// every request, until the test ends, and returns its address.
func (r *Registry) proxy(t testing.TB, direct string) string {
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
	return srv.Listener.Addr().String()
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

// Repository returns a client of repository (e.g. faas/default/hello), over
// plain HTTP with the registry's account.
func (r *Registry) Repository(t testing.TB, name string) *remote.Repository {
	t.Helper()
	repo, err := remote.NewRepository(r.Addr + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	repo.Client = &auth.Client{
		Client:     retry.DefaultClient,
		Cache:      auth.NewCache(),
		Credential: auth.StaticCredential(r.Addr, auth.Credential{Username: r.Username, Password: r.Password}),
	}
	return repo
}
