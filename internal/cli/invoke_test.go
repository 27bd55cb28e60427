package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minifaas/minifaas/internal/cli/kubeconn"
)

// fakeGateway records the last call and answers with status and body,
// plus the cold-start header when cold is set.
type fakeGateway struct {
	status int
	body   string
	cold   string
	header http.Header

	method, uri, gotBody string
	gotHeader            http.Header
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	g.method, g.uri, g.gotBody, g.gotHeader = r.Method, r.RequestURI, string(b), r.Header.Clone()
	for k, v := range g.header {
		w.Header()[k] = v
	}
	if g.cold != "" {
		w.Header().Set(ColdStartHeader, g.cold)
	}
	w.WriteHeader(g.status)
	fmt.Fprint(w, g.body)
}

func TestInvoke(t *testing.T) {
	dataFile := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(dataFile, []byte(`{"from":"file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string
		gw         fakeGateway
		code       int
		method     string
		uri        string
		body       string
		out        string
		errHas     []string
		headerWant map[string]string
	}{
		{name: "get", args: []string{"invoke", "hello"}, gw: fakeGateway{status: 200, body: "hi"},
			code: 0, method: "GET", uri: "/invoke/hello.default", out: "hi"},
		{name: "data is a POST with headers, a sub-path and another namespace",
			args: []string{"invoke", "hello", "-n", "shop", "-d", `{"a":1}`, "-H", "Content-Type: application/json", "-H", "X-Trace:  7 ", "--path", "items/3?full=1&x=%20"},
			gw:   fakeGateway{status: 201, body: "made"}, code: 0, method: "POST", uri: "/invoke/hello.shop/items/3?full=1&x=%20",
			body: `{"a":1}`, out: "made", headerWant: map[string]string{"Content-Type": "application/json", "X-Trace": "7"}},
		{name: "@file and -X", args: []string{"invoke", "hello", "-X", "put", "-d", "@" + dataFile},
			gw: fakeGateway{status: 204}, method: "PUT", uri: "/invoke/hello.default", body: `{"from":"file"}`},
		{name: "@- reads stdin", args: []string{"invoke", "hello", "-d", "@-"}, stdin: "from stdin",
			gw: fakeGateway{status: 200, body: "ok"}, method: "POST", uri: "/invoke/hello.default", body: "from stdin", out: "ok"},
		{name: "verbose warm", args: []string{"invoke", "hello", "-v"}, gw: fakeGateway{status: 200, body: "hi", header: http.Header{"X-Answer": {"42"}}},
			method: "GET", uri: "/invoke/hello.default", out: "hi",
			errHas: []string{"> GET /invoke/hello.default HTTP/1.1", "< HTTP/1.1 200 OK", "< X-Answer: 42", "200 OK in", "; warm\n"}},
		{name: "verbose cold", args: []string{"invoke", "hello", "-v"}, gw: fakeGateway{status: 200, body: "hi", cold: "pool"},
			method: "GET", uri: "/invoke/hello.default", out: "hi", errHas: []string{"; cold start: pool\n"}},
		{name: "function error", args: []string{"invoke", "hello"},
			gw:   fakeGateway{status: 500, body: `{"error": "function raised ZeroDivisionError", "status": 500}`},
			code: ExitFunctionError, method: "GET", uri: "/invoke/hello.default", out: `{"error": "function raised ZeroDivisionError", "status": 500}`,
			errHas: []string{"error: the function answered 500 Internal Server Error: function raised ZeroDivisionError"}},
		{name: "function answers 404 itself", args: []string{"invoke", "hello", "--path", "/missing"},
			gw: fakeGateway{status: 404, body: "no such item"}, code: ExitFunctionError, method: "GET", uri: "/invoke/hello.default/missing",
			out: "no such item", errHas: []string{"error: the function answered 404 Not Found"}},
		{name: "gateway has no such function", args: []string{"invoke", "nope"},
			gw:   fakeGateway{status: 404, body: `{"error":"function not found: no Function default/nope","status":404,"function":"default/nope"}`},
			code: ExitNotFound, method: "GET", uri: "/invoke/nope.default", errHas: []string{`error: no function "nope" in namespace "default"`}},
		{name: "gateway timeout", args: []string{"invoke", "hello"},
			gw:   fakeGateway{status: 504, body: `{"error":"function did not become ready in time: LoadFailed","status":504,"function":"default/hello"}`},
			code: ExitFunctionError, method: "GET", uri: "/invoke/hello.default",
			errHas: []string{"error: the gateway answered 504 Gateway Timeout: function did not become ready in time: LoadFailed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := tc.gw
			srv := httptest.NewServer(&gw)
			defer srv.Close()
			h := newHarness(t)
			h.env.In = strings.NewReader(tc.stdin)
			args := append(tc.args, "--gateway", srv.URL+"/")
			code := h.run(args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, h.err)
			}
			if gw.method != tc.method || gw.uri != tc.uri || gw.gotBody != tc.body {
				t.Errorf("gateway got %s %s %q, want %s %s %q", gw.method, gw.uri, gw.gotBody, tc.method, tc.uri, tc.body)
			}
			if tc.out != "" && !strings.HasPrefix(h.out.String(), tc.out) {
				t.Errorf("stdout = %q, want %q", h.out, tc.out)
			}
			for k, v := range tc.headerWant {
				if got := gw.gotHeader.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, want := range tc.errHas {
				if !strings.Contains(h.err.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, h.err)
				}
			}
		})
	}
}

func TestInvokeFindsTheGatewayInTheEnvironment(t *testing.T) {
	gw := fakeGateway{status: 200, body: "from env"}
	srv := httptest.NewServer(&gw)
	defer srv.Close()
	h := newHarness(t)
	h.getenv[GatewayEnv] = srv.URL
	if out := h.mustRun("invoke", "hello"); out != "from env" {
		t.Errorf("stdout %q", out)
	}
	// The flag wins over the environment.
	h.getenv[GatewayEnv] = "http://127.0.0.1:1"
	if out := h.mustRun("invoke", "hello", "--gateway", srv.URL); out != "from env" {
		t.Errorf("stdout %q", out)
	}
}

// TestInvokeNeedsNoClusterWithAGateway: with --gateway, no kubeconfig is
// needed; the namespace is -n's, else default.
func TestInvokeNeedsNoClusterWithAGateway(t *testing.T) {
	gw := fakeGateway{status: 200, body: "ok"}
	srv := httptest.NewServer(&gw)
	defer srv.Close()
	h := newHarness(t)
	h.env.Connect = func(*kubeconn.Flags) (*kubeconn.Conn, error) { return nil, kubeconn.ErrNoConfig }
	h.mustRun("invoke", "hello", "--gateway", srv.URL)
	if gw.uri != "/invoke/hello.default" {
		t.Errorf("called %s", gw.uri)
	}
	// Without a gateway it needs the cluster, and says so.
	if code := h.run("invoke", "hello"); code != ExitUnreachable || !strings.Contains(h.err.String(), "no Kubernetes cluster configured") {
		t.Errorf("exit %d, stderr %q", code, h.err)
	}
}

func TestInvokeUnreachableGateway(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	h := newHarness(t)
	if code := h.run("invoke", "hello", "--gateway", url); code != ExitUnreachable {
		t.Fatalf("exit %d, want %d", code, ExitUnreachable)
	}
	if !strings.HasPrefix(h.err.String(), "error: cannot reach the gateway at "+url) {
		t.Errorf("stderr %q", h.err)
	}
	for _, bad := range [][]string{
		{"invoke", "hello", "--gateway", "localhost:8000"},
		{"invoke", "hello", "--gateway", url, "-H", "NoColon"},
		{"invoke", "hello", "--gateway", url, "-d", "@/does/not/exist"},
		{"invoke"},
	} {
		if code := h.run(bad...); code != ExitUsage {
			t.Errorf("faas %v: exit %d, want %d (%s)", bad, code, ExitUsage, h.err)
		}
	}
}

func TestCallURL(t *testing.T) {
	for _, tc := range []struct{ base, sub, want string }{
		{"http://gw:8000", "", "http://gw:8000/invoke/f.ns"},
		{"http://gw:8000/", "/", "http://gw:8000/invoke/f.ns"},
		{"https://example.com/faas", "/a/b", "https://example.com/faas/invoke/f.ns/a/b"},
		{"http://gw", "a b?q=1", "http://gw/invoke/f.ns/a%20b?q=1"},
		{"http://gw?x=1", "?only=query", "http://gw/invoke/f.ns?only=query"},
	} {
		got, err := callURL(tc.base, "f", "ns", tc.sub)
		if err != nil || got != tc.want {
			t.Errorf("callURL(%q, %q) = %q, %v; want %q", tc.base, tc.sub, got, err, tc.want)
		}
	}
}

func TestInvokePrintsAllOfALargeErrorAnswer(t *testing.T) {
	body := strings.Repeat("x", 3*maxErrorBody)
	gw := fakeGateway{status: 500, body: body}
	srv := httptest.NewServer(&gw)
	defer srv.Close()
	h := newHarness(t)
	if code := h.run("invoke", "hello", "--gateway", srv.URL); code != ExitFunctionError {
		t.Fatalf("exit %d", code)
	}
	if h.out.String() != body {
		t.Errorf("printed %d bytes of a %d-byte answer", h.out.Len(), len(body))
	}
}
