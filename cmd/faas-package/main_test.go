package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/minifaas/minifaas/internal/fetcher"
	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/registrytest"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

func TestMain(m *testing.M) { registrytest.Main(m) }

func writeTree(t *testing.T, dir string, files map[string]string) {
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

func layer(t *testing.T, title string, files map[string]string) packages.Layer {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	var buf bytes.Buffer
	desc, err := packages.Pack(&buf, dir, title, packages.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return packages.Layer{Descriptor: desc, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }}
}

// run runs faas-package with args.
func run(t *testing.T, args ...string) error {
	t.Helper()
	cmd := newCommand()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd.ExecuteContext(t.Context())
}

// TestBuildThenServe is a build Job's fetch, pip and push steps, then a
// runner's GET of the built package from the fetcher.
func TestBuildThenServe(t *testing.T) {
	reg := registrytest.Start(t)
	const ns, fn = "default", "greeter"
	repository := packages.Repository(ns, fn)
	source, err := packages.Push(t.Context(), reg.Repository(t, repository), packages.ArtifactTypeSource, []packages.Layer{
		layer(t, packages.LayerCode, map[string]string{"handler.py": "import six\n"}),
		layer(t, packages.LayerRequirements, map[string]string{"requirements.txt": "six\n"}),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	creds := t.TempDir()
	writeTree(t, creds, map[string]string{"username": reg.Username, "password": reg.Password})
	work, logs := t.TempDir(), t.TempDir()
	common := []string{"--registry", reg.Addr, "--repository", repository, "--credentials-dir", creds, "--plain-http=true"}

	fetchLog := filepath.Join(logs, "fetch")
	if err := run(t, append([]string{"build-fetch", "--digest", source.Digest.String(), "--dest", filepath.Join(work, "src"), "--termination-log", fetchLog}, common...)...); err != nil {
		t.Fatal(err)
	}
	if req, err := os.ReadFile(filepath.Join(work, "src", "root", "requirements", "requirements.txt")); err != nil || string(req) != "six\n" {
		t.Fatalf("requirements.txt = %q, %v", req, err)
	}
	writeTree(t, filepath.Join(work, "deps"), map[string]string{"six.py": "# six\n"}) // pip's step
	pushLog := filepath.Join(logs, "push")
	if err := run(t, append([]string{"build-push", "--source", source.Digest.String(), "--deps", filepath.Join(work, "deps"), "--tmp-dir", t.TempDir(), "--termination-log", pushLog}, common...)...); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(pushLog)
	if err != nil {
		t.Fatal(err)
	}
	var res packagebuild.Result
	if err := json.Unmarshal(raw, &res); err != nil || strings.Count(string(raw), "\n") != 1 {
		t.Fatalf("termination log %q: %v", raw, err)
	}

	cfg := fetcher.DefaultConfig()
	cfg.Registry, cfg.CacheDir = reg.Addr, t.TempDir()
	key := bytes.Repeat([]byte{1}, packages.MinTicketKeyBytes)
	f, err := fetcher.New(cfg, fetcher.Deps{Credentials: packagebuild.Credentials{Username: reg.Username, Password: reg.Password}, TicketKey: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	d := digest.Digest(res.Digest)
	ticket, err := packages.Ticket(key, repository, d)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+runnerapi.FetchPath+ns+"/"+fn+"/"+d.String(), nil)
	req.Header.Set("Authorization", runnerapi.AuthorizationScheme+ticket)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(fetcher.HeaderPackageDigest) != res.Digest {
		t.Fatalf("GET = %d %s", resp.StatusCode, resp.Header)
	}
	var names []string
	tr := tar.NewReader(resp.Body)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
	if want := []string{"code/", "code/handler.py", "deps/", "deps/six.py"}; !slices.Equal(names, want) {
		t.Errorf("package = %v, want %v", names, want)
	}
}

func TestBuildFetchFailureReport(t *testing.T) {
	reg := registrytest.Start(t)
	creds := t.TempDir()
	writeTree(t, creds, map[string]string{"username": reg.Username, "password": reg.Password})
	log := filepath.Join(t.TempDir(), "termination-log")
	absent := digest.FromString("absent")
	err := run(t, "build-fetch", "--registry", reg.Addr, "--repository", "faas/default/x", "--credentials-dir", creds,
		"--digest", absent.String(), "--dest", t.TempDir(), "--termination-log", log)
	if err == nil {
		t.Fatal("build-fetch of an absent source succeeded")
	}
	raw, _ := os.ReadFile(log)
	if !strings.Contains(string(raw), absent.String()) || strings.Contains(string(raw), "\n") {
		t.Errorf("termination log = %q, want one line naming %s", raw, absent)
	}
}

func TestBuildFetchRefusesRequirements(t *testing.T) {
	reg := registrytest.Start(t)
	repository := packages.Repository("default", "greeter")
	source, err := packages.Push(t.Context(), reg.Repository(t, repository), packages.ArtifactTypeSource, []packages.Layer{
		layer(t, packages.LayerCode, map[string]string{"handler.py": "import six\n"}),
		layer(t, packages.LayerRequirements, map[string]string{"requirements.txt": "six\n--index-url https://evil.example/simple\n"}),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	creds := t.TempDir()
	writeTree(t, creds, map[string]string{"username": reg.Username, "password": reg.Password})
	log := filepath.Join(t.TempDir(), "termination-log")
	err = run(t, "build-fetch", "--registry", reg.Addr, "--repository", repository, "--credentials-dir", creds,
		"--digest", source.Digest.String(), "--dest", filepath.Join(t.TempDir(), "src"), "--termination-log", log)
	if code := exitCode(err); code != packagebuild.ExitInvalidRequirements {
		t.Errorf("build-fetch = %v, exit code %d, want %d", err, code, packagebuild.ExitInvalidRequirements)
	}
	raw, _ := os.ReadFile(log)
	if want := "requirements.txt line 2: pip options are not allowed (the platform's pip settings choose the index): --index-url"; string(raw) != want {
		t.Errorf("termination log = %q, want %q", raw, want)
	}
	if code := exitCode(errors.New("registry down")); code != 1 {
		t.Errorf("exit code of another failure = %d, want 1", code)
	}
}

func TestBuildFlags(t *testing.T) {
	for _, cmd := range []*cobra.Command{buildFetchCommand(), buildPushCommand()} {
		if got := cmd.Flags().Lookup("connect-wait").Value.String(); got != "1m0s" {
			t.Errorf("%s --connect-wait = %q, want 1m0s", cmd.Name(), got)
		}
	}
	push := buildPushCommand()
	if err := push.ParseFlags([]string{"--work-dir", "/work", "--deps", "/work/deps", "--connect-wait", "5s"}); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"work-dir": "/work", "deps": "/work/deps", "connect-wait": "5s"} {
		if got := push.Flags().Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
}

func TestFetcherFlags(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "faas-system")
	cmd := fetcherCommand()
	if err := cmd.ParseFlags([]string{"--cache-max-bytes", "512Mi", "--fetch-timeout", "30s"}); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{
		"cache-max-bytes": "512Mi", "namespace": "faas-system", "listen": ":8090", "registry-service": "faas-registry",
		"credentials-dir": "/etc/faas-packages", "cache-dir": "/var/cache/faas-packages", "fetch-timeout": "30s",
	} {
		if got := cmd.Flags().Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
	if err := cmd.ParseFlags([]string{"--cache-max-bytes", "-1"}); err == nil {
		t.Error("--cache-max-bytes -1 accepted")
	}
}
