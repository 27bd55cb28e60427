package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGatewayWarmCall measures the whole handler chain — routing,
// capacity, proxy, metrics — for a warm call to a local stub pod, against
// BenchmarkDirectCall, the same call without the gateway.
func BenchmarkGatewayWarmCall(b *testing.B) {
	p := freePorts(b)
	pod := startPod(b, "127.0.0.1", p)
	pod.onCall = func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello from runner")) }
	gw := newTestGateway(b, testConfig(p))
	gw.OnFunction(testFunction("hello"))
	gw.OnEndpointSlice(slice("hello", true, "127.0.0.1"), false)
	front := httptest.NewServer(gw.handler)
	defer front.Close()
	benchGet(b, front.URL+"/invoke/hello")
}

func BenchmarkDirectCall(b *testing.B) {
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("hello from runner"))
	}))
	defer stub.Close()
	benchGet(b, stub.URL+"/")
}

func benchGet(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
