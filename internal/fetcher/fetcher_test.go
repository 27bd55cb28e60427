package fetcher

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

var (
	code = map[string]string{"handler.py": "import six\n", "lib/util.py": "X = 1\n"}
	deps = map[string]string{"six.py": "# six\n", "six-1.16.0.dist-info/METADATA": "Name: six\n"}
	// wantTar is the answer for code and deps.
	wantTar = []string{
		"code/ 755", "code/handler.py 644 import six\n", "code/lib/ 755", "code/lib/util.py 644 X = 1\n",
		"deps/ 755", "deps/six-1.16.0.dist-info/ 755", "deps/six-1.16.0.dist-info/METADATA 644 Name: six\n", "deps/six.py 644 # six\n",
	}
)

func errorBody(t *testing.T, body []byte) runnerapi.ErrorBody {
	t.Helper()
	var e runnerapi.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e
}

func TestTicketRefusedBeforeCacheOrRegistry(t *testing.T) {
	f := startFetcher(t, nil)
	d := f.pushBuilt(t, "default", "hello", code, deps)
	other := digest.FromString("other")
	path := packagePath("default", "hello", d)
	tests := []struct{ name, authorization string }{
		{"none", ""},
		{"empty bearer", "Bearer "},
		{"garbage", "Bearer not-a-ticket"},
		{"another function's", "Bearer " + ticket(t, "default", "other", d)},
		{"another namespace's", "Bearer " + ticket(t, "prod", "hello", d)},
		{"another digest's", "Bearer " + ticket(t, "default", "hello", other)},
		{"basic scheme", "Basic " + ticket(t, "default", "hello", d)},
	}
	f.reg.Reset()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				resp, body := f.get(t, method, path, tc.authorization)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s = %d %s, want 401", method, resp.StatusCode, body)
				}
			}
		})
	}
	if n := len(f.reg.Requests()); n != 0 {
		t.Errorf("the registry was asked %d times for refused requests", n)
	}
	if c := f.cached(t); len(c) != 0 {
		t.Errorf("refused requests cached %v", c)
	}
}

func TestPathsAndMethods(t *testing.T) {
	f := startFetcher(t, nil)
	d := digest.FromString("x")
	auth := "Bearer " + ticket(t, "default", "hello", d)
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, packagePath("default", "hello", d), http.StatusMethodNotAllowed},
		{http.MethodDelete, packagePath("default", "hello", d), http.StatusMethodNotAllowed},
		{http.MethodGet, runnerapi.FetchPath + "default/hello", http.StatusNotFound},
		{http.MethodGet, runnerapi.FetchPath + "default/hello/" + d.String() + "/more", http.StatusNotFound},
		{http.MethodGet, packagePath("Default", "hello", d), http.StatusBadRequest},
		{http.MethodGet, packagePath("default", "hello_world", d), http.StatusBadRequest},
		{http.MethodGet, runnerapi.FetchPath + "default/hello/latest", http.StatusBadRequest},
		{http.MethodGet, runnerapi.FetchPath + "default/hello/sha512:" + strings.Repeat("a", 128), http.StatusBadRequest},
		{http.MethodGet, runnerapi.FetchPath + "default/hello/sha256:" + strings.Repeat("A", 64), http.StatusBadRequest},
		{http.MethodGet, "/v2/", http.StatusNotFound},
		{http.MethodGet, "/healthz", http.StatusOK},
	}
	for _, tc := range tests {
		resp, body := f.get(t, tc.method, tc.path, auth)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.want)
			continue
		}
		if tc.want != http.StatusOK {
			if e := errorBody(t, body); e.Status != tc.want || e.Error == "" {
				t.Errorf("%s %s: error body %+v", tc.method, tc.path, e)
			}
		}
	}
	if n := len(f.reg.Requests()); n != 0 {
		t.Errorf("the registry was asked %d times", n)
	}
}

func TestMissThenHit(t *testing.T) {
	f := startFetcher(t, nil)
	d := f.pushBuilt(t, "default", "hello", code, deps)
	f.reg.Reset()

	resp, body := f.getPackage(t, "default", "hello", d)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first GET = %d %s", resp.StatusCode, body)
	}
	if got := untar(t, body); !slices.Equal(got, wantTar) {
		t.Errorf("answer = %q, want %q", got, wantTar)
	}
	if ct, pd := resp.Header.Get("Content-Type"), resp.Header.Get(HeaderPackageDigest); ct != runnerapi.PackageMediaType || pd != d.String() {
		t.Errorf("Content-Type %q, %s %q", ct, HeaderPackageDigest, pd)
	}
	if successes(f.reg, http.MethodGet, "/manifests/") != 1 || successes(f.reg, http.MethodGet, "/blobs/") != 2 {
		t.Errorf("a miss asked the registry %v", f.reg.Requests())
	}

	f.reg.Reset()
	again, body2 := f.getPackage(t, "default", "hello", d)
	if again.StatusCode != http.StatusOK || string(body2) != string(body) {
		t.Errorf("second GET = %d, %d bytes; want the same 200", again.StatusCode, len(body2))
	}
	head, headBody := f.get(t, http.MethodHead, packagePath("default", "hello", d), "Bearer "+ticket(t, "default", "hello", d))
	if head.StatusCode != http.StatusOK || len(headBody) != 0 || head.ContentLength != int64(len(body)) {
		t.Errorf("HEAD = %d, %d bytes, Content-Length %d", head.StatusCode, len(headBody), head.ContentLength)
	}
	if n := len(f.reg.Requests()); n != 0 {
		t.Errorf("hits asked the registry %d times: %v", n, f.reg.Requests())
	}

	t.Run("the same digest in another function", func(t *testing.T) {
		f.pushBuilt(t, "prod", "hello", code, deps)
		f.reg.Reset()
		resp, body3 := f.getPackage(t, "prod", "hello", d)
		if resp.StatusCode != http.StatusOK || string(body3) != string(body) || len(f.reg.Requests()) != 0 {
			t.Errorf("GET = %d, registry asked %d times; want a hit", resp.StatusCode, len(f.reg.Requests()))
		}
	})

	t.Run("code only", func(t *testing.T) {
		d := f.pushBuilt(t, "default", "solo", map[string]string{"handler.py": "pass\n"}, nil)
		resp, body := f.getPackage(t, "default", "solo", d)
		want := []string{"code/ 755", "code/handler.py 644 pass\n"}
		if got := untar(t, body); resp.StatusCode != http.StatusOK || !slices.Equal(got, want) {
			t.Errorf("GET = %d %q, want %q", resp.StatusCode, got, want)
		}
	})
}

func TestConcurrentRequestsShareOneFetch(t *testing.T) {
	const n = 8
	f := startFetcher(t, nil)
	d := f.pushBuilt(t, "default", "hello", code, deps)
	f.reg.Reset()
	// The registry answers nothing until every request waits for the
	// fetch.
	release := make(chan struct{})
	f.reg.SetHook(func(*http.Request) { <-release })
	joined := make(chan struct{}, n)
	f.store.joined = func() { joined <- struct{}{} }

	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Go(func() {
			resp, body := f.getPackage(t, "default", "hello", d)
			bodies[i] = strconv.Itoa(resp.StatusCode) + " " + string(body)
		})
	}
	for range n {
		<-joined
	}
	close(release)
	wg.Wait()
	for i := range bodies {
		if !strings.HasPrefix(bodies[i], "200 ") || bodies[i] != bodies[0] {
			t.Errorf("request %d got %.40q, request 0 %.40q", i, bodies[i], bodies[0])
		}
	}
	if m, b := successes(f.reg, http.MethodGet, "/manifests/"), successes(f.reg, http.MethodGet, "/blobs/"); m != 1 || b != 2 {
		t.Errorf("%d requests fetched the manifest %d times and blobs %d times, want once and twice", n, m, b)
	}
}

func TestRefusedArtifacts(t *testing.T) {
	f := startFetcher(t, nil)
	repo := f.reg.Repository(t, packages.Repository("default", "hello"))
	source := push(t, repo, packages.ArtifactTypeSource, layer(t, packages.LayerCode, code),
		layer(t, packages.LayerRequirements, map[string]string{"requirements.txt": "six\n"}))
	extra := push(t, repo, packages.ArtifactTypeBuilt, layer(t, packages.LayerCode, code), layer(t, "other", deps))
	requirements := push(t, repo, packages.ArtifactTypeBuilt, layer(t, packages.LayerCode, code),
		layer(t, packages.LayerRequirements, map[string]string{"requirements.txt": "six\n"}))
	tests := []struct {
		name string
		d    digest.Digest
		want int
	}{
		{"source artifact", source, http.StatusUnprocessableEntity},
		{"extra layer", extra, http.StatusUnprocessableEntity},
		{"requirements layer", requirements, http.StatusUnprocessableEntity},
		{"absent", digest.FromString("absent"), http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for attempt := range 2 {
				f.reg.Reset()
				resp, body := f.getPackage(t, "default", "hello", tc.d)
				if resp.StatusCode != tc.want {
					t.Fatalf("GET = %d %s, want %d", resp.StatusCode, body, tc.want)
				}
				if e := errorBody(t, body); e.Status != tc.want || !strings.Contains(e.Error, tc.d.String()) {
					t.Errorf("error body %+v", e)
				}
				if n := successes(f.reg, http.MethodGet, "/blobs/"); n != 0 {
					t.Errorf("%d blobs read of a refused artifact", n)
				}
				if attempt == 1 && len(f.reg.Requests()) == 0 {
					t.Error("a refusal was cached")
				}
			}
		})
	}
	if c := f.cached(t); len(c) != 0 {
		t.Errorf("refused artifacts cached: %v", c)
	}
}

func TestRegistryUnreachable(t *testing.T) {
	f := startFetcher(t, func(c *Config) { c.Registry = "127.0.0.1:1" })
	d := digest.FromString("x")
	resp, body := f.getPackage(t, "default", "hello", d)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("GET = %d %s, want 502", resp.StatusCode, body)
	}
}

func TestRegistryRefusesCredentials(t *testing.T) {
	good := startFetcher(t, nil)
	d := good.pushBuilt(t, "default", "hello", code, deps)
	creds := credentials(good.reg)
	creds.Password = "wrong"
	cfg := good.cfg
	cfg.CacheDir = t.TempDir()
	f, err := New(cfg, Deps{Credentials: creds, TicketKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	bad := &testFetcher{Fetcher: f, reg: good.reg, srv: srv, cfg: cfg}
	resp, body := bad.getPackage(t, "default", "hello", d)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("GET = %d %s, want 502", resp.StatusCode, body)
	}
}
