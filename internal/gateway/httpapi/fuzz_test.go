package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"github.com/minifaas/minifaas/internal/gateway/capacity"
)

func FuzzParseInvokePath(f *testing.F) {
	for _, s := range []string{
		"/invoke/hello", "/invoke/hello/", "/invoke/hello/a/b", "/invoke/hello.team-a/x",
		"/invoke/hello/a%20b", "/invoke/", "/invoke/Hello", "/invoke/he_llo", "/invoke/-x",
		"/invoke/hello.", "/invoke/a.b.c", "/invoke/%68ello", "/invoke/hello/../../etc",
		"/invoke/hello/a/%2e%2e/b", "/invoke/hello/%zz", "/other/hello", "",
		"/invoke/hello/.", "/invoke/hello/%2E", "/invoke/hello/a%2F..%2Fb", "/invoke/hello/a%2f%2e%2e",
		"/invoke/hello//a", "/invoke/hello/a%00b", "/invoke/hello/%3Fq%23f", "/invoke/hello/...",
		"/invoke/hello/.a/..b", "/invoke/" + strings.Repeat("a", 63), "/invoke/" + strings.Repeat("a", 64),
		"/invoke/a." + strings.Repeat("b", 64), "/invoke/hello.ns/%", "//invoke/hello", "/invoke//hello",
	} {
		f.Add(s, "default")
	}
	f.Add("/invoke/hello", "")
	f.Add("/invoke/hello", "Bad_NS")
	f.Fuzz(func(t *testing.T, escaped, defaultNamespace string) {
		got, err := parseInvokePath(escaped, defaultNamespace)
		if err != nil {
			if !errors.Is(err, ErrBadPath) {
				t.Fatalf("parseInvokePath(%q) = %v, want ErrBadPath", escaped, err)
			}
			return
		}
		name, ns := got.fn.Name, got.fn.Namespace
		for _, label := range []string{name, ns} {
			if len(label) == 0 || len(label) > 63 || !isDNSLabel(label) {
				t.Fatalf("parseInvokePath(%q) = %q/%q: not a DNS label", escaped, ns, name)
			}
		}
		if !strings.HasPrefix(got.path, "/") || !strings.HasPrefix(got.rawPath, "/") {
			t.Fatalf("parseInvokePath(%q): path %q rawPath %q, want both to start with /", escaped, got.path, got.rawPath)
		}
		for seg := range strings.SplitSeq(got.path, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("parseInvokePath(%q): path %q has a dot segment", escaped, got.path)
			}
		}
		if p, err := url.PathUnescape(got.rawPath); err != nil || p != got.path {
			t.Fatalf("parseInvokePath(%q): rawPath %q unescapes to %q (%v), want path %q", escaped, got.rawPath, p, err, got.path)
		}
		// The parts are the input's: nothing was dropped or invented.
		ref := name
		if !strings.HasPrefix(escaped, InvokePrefix+name+"/") && escaped != InvokePrefix+name {
			ref = name + "." + ns
		} else if ns != defaultNamespace {
			t.Fatalf("parseInvokePath(%q): namespace %q without one in the path, want the default %q", escaped, ns, defaultNamespace)
		}
		if escaped != InvokePrefix+ref+got.rawPath && !(got.rawPath == "/" && escaped == InvokePrefix+ref) {
			t.Fatalf("parseInvokePath(%q) = %s/%s %q: does not make up the input", escaped, ns, name, got.rawPath)
		}
	})
}

func isDNSLabel(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return s != ""
}

// podAddr is where every fuzzed call must go.
const (
	fuzzPodIP   = "10.1.2.3"
	fuzzPodAddr = "10.1.2.3:8080"
	fuzzClient  = "192.0.2.7"
)

// captureTransport records the request the proxy sends.
type captureTransport struct{ out *http.Request }

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.out = r
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// FuzzRewrite reads a fuzzed request as the gateway's server would, routes
// it, and sends it through rewrite (directly, and in a ReverseProxy as
// NewForward does): whatever its target, Host and headers, it must go to the
// slot's pod, at the routed path, with no hop-by-hop header, with
// X-Forwarded-For and the function header set.
func FuzzRewrite(f *testing.F) {
	seeds := []struct{ target, host, name, value, conn string }{
		{"/invoke/hello/a/b?x=1", "gateway.example", "Accept", "*/*", "keep-alive"},
		{"/invoke/hello.team-a/", "gateway.example", "X-Faas-Function", "other/fn", "close"},
		{"http://evil.example/invoke/hello/x", "gateway.example", "X-Forwarded-For", "1.2.3.4", "X-Forwarded-For"},
		{"http://u:p@evil.example:80/invoke/hello/a%2Fb", "evil.example", "Forwarded", "for=1.2.3.4", "Forwarded, Keep-Alive"},
		{"//evil.example/invoke/hello", "evil.example", "Keep-Alive", "timeout=5", "Keep-Alive"},
		{"/invoke/hello/%2e%2e/x", "h", "A", "b", "c"},
		{"/invoke/hello/a%3Fb%23c?q=a;b", "h", "Te", "trailers, deflate", "TE"},
		{"/invoke/hello/ws", "h", "Upgrade", "websocket", "Upgrade"},
		{"/invoke/hello", "h", "Proxy-Authorization", "Basic eA==", "X-Secret, Proxy-Authorization"},
		{"/invoke/hello", "10.9.9.9:8080", "Transfer-Encoding", "chunked", "Upgrade, X-Faas-Function"},
		{"https://evil.example:443/invoke/hello?next=http://x", "h", "Host", "evil.example", "Host"},
		{"/invoke/hello", "h\r\nX-Injected: 1", "X", "y\r\nHost: evil.example", "close"},
		{"*", "h", "A", "b", "close"},
		{"http:opaque", "h", "A", "b", "close"},
	}
	for _, s := range seeds {
		f.Add(s.target, s.host, s.name, s.value, s.conn)
	}
	var capture captureTransport
	var proxyErr error
	proxy := &httputil.ReverseProxy{
		Rewrite:      rewrite,
		Transport:    &capture,
		ErrorHandler: func(_ http.ResponseWriter, _ *http.Request, err error) { proxyErr = err },
	}
	f.Fuzz(func(t *testing.T, target, host, name, value, conn string) {
		raw := "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + name + ": " + value + "\r\nConnection: " + conn + "\r\n\r\n"
		in, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // the server answers 400
		}
		in.RemoteAddr = fuzzClient + ":51234"
		inv, err := parseInvokePath(in.URL.EscapedPath(), "default")
		if err != nil {
			return // route answers 400
		}
		c := &Call{Function: inv.fn.String(), Key: inv.fn, Path: inv.path, RawPath: inv.rawPath,
			Slot: capacity.Slot{Pod: capacity.Pod{IP: fuzzPodIP, Addr: fuzzPodAddr}}}
		in = withCall(in, c)

		// rewrite alone, on a ProxyRequest as ReverseProxy makes one.
		pr := &httputil.ProxyRequest{In: in, Out: in.Clone(in.Context())}
		rewrite(pr)
		checkOut(t, "rewrite", c, pr.Out)
		if xff := pr.Out.Header.Values("X-Forwarded-For"); len(xff) != 1 || !strings.HasSuffix(xff[0], fuzzClient) {
			t.Fatalf("rewrite: X-Forwarded-For %q, want it to end with the client %s", xff, fuzzClient)
		}

		// The whole proxy, as NewForward runs it.
		capture.out, proxyErr = nil, nil
		proxy.ServeHTTP(httptest.NewRecorder(), in)
		if capture.out == nil {
			if proxyErr != nil && strings.Contains(proxyErr.Error(), "invalid protocol") {
				return // an unprintable Upgrade is refused
			}
			t.Fatalf("the proxy sent nothing: %v", proxyErr)
		}
		out := capture.out
		checkOut(t, "proxy", c, out)
		if xff := out.Header.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != fuzzClient {
			t.Fatalf("proxy: X-Forwarded-For %q, want exactly the client %s", xff, fuzzClient)
		}
		upgrade := in.Header.Get("Upgrade") != "" && headerHasToken(in.Header, "Connection", "upgrade")
		for _, h := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
			v, ok := out.Header[h]
			switch {
			case !ok:
			case h == "Te" && len(v) == 1 && v[0] == "trailers":
			case (h == "Connection" || h == "Upgrade") && upgrade:
			default:
				t.Fatalf("proxy: hop-by-hop header %s: %q sent to the pod", h, v)
			}
		}
		// Headers the client named in Connection are hop-by-hop too, unless
		// the proxy sets them itself.
		setByProxy := map[string]bool{"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true,
			FunctionHeader: true, "Te": true, "Connection": true, "Upgrade": true, "User-Agent": true}
		for _, v := range in.Header.Values("Connection") {
			for tok := range strings.SplitSeq(v, ",") {
				tok = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(tok))
				if _, ok := out.Header[tok]; ok && tok != "" && !setByProxy[tok] {
					t.Fatalf("proxy: %s, named in Connection, sent to the pod", tok)
				}
			}
		}
	})
}

// checkOut asserts where and how out goes, down to the bytes on the wire.
func checkOut(t *testing.T, what string, c *Call, out *http.Request) {
	t.Helper()
	if out.URL.Scheme != "http" || out.URL.Host != fuzzPodAddr || out.Host != fuzzPodAddr {
		t.Fatalf("%s: to %s://%s (Host %q), want http://%s", what, out.URL.Scheme, out.URL.Host, out.Host, fuzzPodAddr)
	}
	if out.URL.Path != c.Path || out.URL.Opaque != "" {
		t.Fatalf("%s: path %q (opaque %q), want the call's %q", what, out.URL.Path, out.URL.Opaque, c.Path)
	}
	if v := out.Header.Values(FunctionHeader); len(v) != 1 || v[0] != c.Function {
		t.Fatalf("%s: %s %q, want exactly %q", what, FunctionHeader, v, c.Function)
	}
	// What the pod would read of the request line and headers; the body is
	// the caller's and not fuzzed here.
	head := out.Clone(out.Context())
	head.Body, head.ContentLength, head.TransferEncoding = nil, 0, nil
	var wire bytes.Buffer
	if err := head.Write(&wire); err != nil {
		t.Fatalf("%s: writing the request: %v", what, err)
	}
	sent, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatalf("%s: the pod cannot read the request: %v\n%s", what, err, wire.String())
	}
	if sent.Host != fuzzPodAddr || sent.URL.Host != "" || sent.URL.Path != c.Path {
		t.Fatalf("%s: the pod reads Host %q, URL %q (path %q), want Host %s and path %q", what, sent.Host, sent.URL, sent.URL.Path, fuzzPodAddr, c.Path)
	}
	if v := sent.Header.Values(FunctionHeader); len(v) != 1 || v[0] != c.Function {
		t.Fatalf("%s: the pod reads %s %q, want exactly %q", what, FunctionHeader, v, c.Function)
	}
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), token) {
				return true
			}
		}
	}
	return false
}
