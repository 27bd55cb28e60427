package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The hostile-client suite of the gateway: raw sockets against the real
// call path on a real server. Each case checks what the hostile caller gets
// AND that another caller is answered correctly afterwards.

// hostileGateway serves the call path on a real listener, with the public
// server's own timeouts, in front of one fake pod.
func hostileGateway(t *testing.T) (addr string, pod *fakePod) {
	t.Helper()
	p := freePorts(t)
	pod = startPod(t, "127.0.0.40", p)
	cfg := testConfig(p)
	gw := newTestGateway(t, cfg)
	gw.OnFunction(testFunction("victim"))
	gw.OnEndpointSlice(slice("victim", true, "127.0.0.40"), false)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw.handler, ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String(), pod
}

// raw sends payload on a new connection and returns everything read until
// the server closes it or nothing comes for a while.
func raw(t *testing.T, addr, payload string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte(payload))
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

// innocent checks a normal caller is answered by the function itself.
func innocent(t *testing.T, addr string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/invoke/victim/ok", "text/plain", strings.NewReader("mine"))
	if err != nil {
		t.Fatalf("innocent caller: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"body":"mine"`) || !strings.Contains(string(b), `"path":"/ok"`) {
		t.Fatalf("innocent caller got %d %s", resp.StatusCode, b)
	}
}

func TestHostileFramingIsRefusedAndOthersAreServed(t *testing.T) {
	addr, _ := hostileGateway(t)
	for _, tc := range []struct{ name, payload, wantStatus string }{
		{"two Content-Lengths", "POST /invoke/victim HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd", "400"},
		{"negative Content-Length", "POST /invoke/victim HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "400"},
		{"bad chunk size", "POST /invoke/victim HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", "400"},
		{"chunk size overflow", "POST /invoke/victim HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nabc\r\n0\r\n\r\n", "400"},
		{"oversized headers", "GET /invoke/victim HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", "431"},
		{"space before colon", "GET /invoke/victim HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello", "400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := raw(t, addr, tc.payload)
			if !strings.HasPrefix(got, "HTTP/1.1 "+tc.wantStatus) {
				t.Errorf("answered %q, want %s", firstLine(got), tc.wantStatus)
			}
			if strings.Count(got, "HTTP/1.1 ") > 1 {
				t.Errorf("a second answer followed on the connection: %q", got)
			}
			innocent(t, addr)
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// Both Content-Length and Transfer-Encoding: Go's server lets chunked win
// and drops Content-Length (RFC 9112 6.3), and the gateway frames the
// request anew towards the pod; what follows the chunked body is the same
// caller's next request on its own connection. The pod must see one
// well-framed request per call, and other callers nothing of it.
func TestContentLengthWithChunkedIsReframed(t *testing.T) {
	addr, pod := hostileGateway(t)
	before := pod.calls.Load()
	got := raw(t, addr, "POST /invoke/victim HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 200") || !strings.Contains(got, `"body":"body"`) {
		t.Errorf("answered %q", got)
	}
	if n := pod.calls.Load() - before; n != 1 {
		t.Errorf("the pod saw %d requests for one call", n)
	}
	innocent(t, addr)
}

// A body that is itself a request, sent to what used to be a runner's
// internal path, reaches the function as a body: it never becomes a second
// request on the gateway's pooled connection to the pod.
func TestSmuggledRequestInABodyStaysABody(t *testing.T) {
	addr, pod := hostileGateway(t)
	smuggled := "GET /invoke/victim/evil HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, path := range []string{"/invoke/victim/_/ready", "/invoke/victim/_/stats", "/invoke/victim/_/specialize"} {
		resp, err := http.Post("http://"+addr+path, "text/plain", strings.NewReader(smuggled))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"path":"/_/`) || !strings.Contains(string(b), "/invoke/victim/evil") {
			t.Errorf("%s: %d %s; want the function to get the path and the body", path, resp.StatusCode, b)
		}
	}
	before := pod.calls.Load()
	for range 5 {
		innocent(t, addr)
	}
	if got := pod.calls.Load() - before; got != 5 {
		t.Errorf("the pod saw %d calls for 5 innocent ones", got)
	}
}

// A slow client that dribbles its headers is cut off at the header timeout
// and holds no slot; others are served meanwhile.
func TestSlowlorisIsCutOffAndHoldsNoSlot(t *testing.T) {
	addr, _ := hostileGateway(t)
	var closed atomic.Bool
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		for _, b := range []byte("GET /invoke/victim HTTP/1.1\r\nHost: x\r\nX-Slow: ") {
			if _, err := c.Write([]byte{b}); err != nil {
				closed.Store(true)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	innocent(t, addr)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := bufio.NewReader(c).ReadString('\n')
	if got != "" && !strings.HasPrefix(got, "HTTP/1.1 4") {
		t.Errorf("slow client got %q", got)
	}
	innocent(t, addr)
}
