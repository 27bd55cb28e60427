package fetcher

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr/testr"
	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/content"

	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/registrytest"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

func TestMain(m *testing.M) { registrytest.Main(m) }

// testKey is the ticket key of every test fetcher.
var testKey = bytes.Repeat([]byte{7}, packages.MinTicketKeyBytes)

// testFetcher is a fetcher in front of a test registry.
type testFetcher struct {
	*Fetcher
	reg *registrytest.Registry
	srv *httptest.Server
	cfg Config
}

// startFetcher serves a new fetcher of a new registry; change modifies its
// Config first.
func startFetcher(t testing.TB, change func(*Config)) *testFetcher {
	t.Helper()
	reg := registrytest.Start(t)
	cfg := DefaultConfig()
	cfg.Registry = reg.Addr
	cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
	if change != nil {
		change(&cfg)
	}
	f, err := New(cfg, Deps{Credentials: credentials(reg), TicketKey: testKey, Log: testr.NewWithInterface(t, testr.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return &testFetcher{Fetcher: f, reg: reg, srv: srv, cfg: cfg}
}

// credentials is the account of reg.
func credentials(reg *registrytest.Registry) packagebuild.Credentials {
	return packagebuild.Credentials{Username: reg.Username, Password: reg.Password}
}

// writeTree makes files under dir from slash-separated names to contents.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// layer packs files as a layer titled title.
func layer(t testing.TB, title string, files map[string]string) packages.Layer {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	var buf bytes.Buffer
	desc, err := packages.Pack(&buf, dir, title, packages.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return packages.Layer{Descriptor: desc, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}}
}

// push pushes an artifact of type with layers to dst.
func push(t testing.TB, dst content.Storage, artifactType string, layers ...packages.Layer) digest.Digest {
	t.Helper()
	desc, err := packages.Push(t.Context(), dst, artifactType, layers, nil)
	if err != nil {
		t.Fatal(err)
	}
	return desc.Digest
}

// pushBuilt pushes a built package of code and deps to faas/ns/fn.
func (f *testFetcher) pushBuilt(t testing.TB, ns, fn string, code, deps map[string]string) digest.Digest {
	t.Helper()
	layers := []packages.Layer{layer(t, packages.LayerCode, code)}
	if deps != nil {
		layers = append(layers, layer(t, packages.LayerDeps, deps))
	}
	return push(t, f.reg.Repository(t, packages.Repository(ns, fn)), packages.ArtifactTypeBuilt, layers...)
}

func ticket(t testing.TB, ns, fn string, d digest.Digest) string {
	t.Helper()
	tk, err := packages.Ticket(testKey, packages.Repository(ns, fn), d)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// get asks the fetcher for a package with authorization (none if empty).
func (f *testFetcher) get(t testing.TB, method, path, authorization string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// getPackage asks for fn's package d with its ticket.
func (f *testFetcher) getPackage(t testing.TB, ns, fn string, d digest.Digest) (*http.Response, []byte) {
	t.Helper()
	return f.get(t, http.MethodGet, packagePath(ns, fn, d), runnerapi.AuthorizationScheme+ticket(t, ns, fn, d))
}

func packagePath(ns, fn string, d digest.Digest) string {
	return runnerapi.FetchPath + ns + "/" + fn + "/" + d.String()
}

// untar returns a tar's entries in order: directories with a trailing
// slash and their mode, files with their mode and contents.
func untar(t testing.TB, data []byte) []string {
	t.Helper()
	var got []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			got = append(got, fmt.Sprintf("%s %o", hdr.Name, hdr.Mode))
		case tar.TypeReg:
			got = append(got, fmt.Sprintf("%s %o %s", hdr.Name, hdr.Mode, body))
		default:
			got = append(got, fmt.Sprintf("%s unexpected type %c", hdr.Name, hdr.Typeflag))
		}
	}
}

// successes counts the registry's answers of 2xx to method on paths
// containing part.
func successes(reg *registrytest.Registry, method, part string) int {
	n := 0
	for _, q := range reg.Requests() {
		if q.Method == method && bytes.Contains([]byte(q.Path), []byte(part)) && q.Status/100 == 2 {
			n++
		}
	}
	return n
}

// cached lists the entries of the cache directory's sha256 tree.
func (f *testFetcher) cached(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(f.cfg.CacheDir, "sha256"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, "sha256:"+e.Name())
	}
	return names
}
