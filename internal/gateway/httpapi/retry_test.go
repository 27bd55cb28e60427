package httpapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/minifaas/minifaas/internal/gateway/capacity"
)

type seqTarget struct {
	mu    sync.Mutex
	pods  []capacity.Pod
	i     int
	fails []string
}

func (s *seqTarget) Acquire(ctx context.Context, _ time.Duration) (capacity.Slot, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pods[s.i%len(s.pods)]
	s.i++
	return capacity.Slot{Pod: p}, false, nil
}
func (s *seqTarget) Release(capacity.Slot)      {}
func (s *seqTarget) CallTimeout() time.Duration { return 5 * time.Second }
func (s *seqTarget) Unavailable() error         { return nil }
func (s *seqTarget) ConnFailed(ip string)       { s.mu.Lock(); s.fails = append(s.fails, ip); s.mu.Unlock() }
func (s *seqTarget) WaitReason() string         { return "" }

type oneResolver struct{ t Target }

func (r oneResolver) Resolve(types.NamespacedName) Target { return r.t }

type nopObs struct{}

func (nopObs) ColdStart(string, string, time.Duration, bool) {}

// A GET that pod A received (and ran) before dying must not be run again on
// pod B: net/http retries it on A (idempotent method), whose dial then
// fails; the call is answered 502 instead.
func TestACallAPodReceivedIsNeverRunOnAnother(t *testing.T) {
	var execA, execB atomic.Int32
	lnA, _ := net.Listen("tcp", "127.0.0.1:0")
	var srvA *httptest.Server
	srvA = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := execA.Add(1)
		if n == 1 {
			_, _ = io.WriteString(w, "ok")
			return
		}
		// The function ran (side effect), then the process died.
		lnA.Close()
		c, _, _ := w.(http.Hijacker).Hijack()
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}))
	srvA.Listener = lnA
	srvA.Start()
	srvB := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		execB.Add(1)
		_, _ = io.WriteString(w, "from B")
	}))
	defer srvB.Close()
	addrA := lnA.Addr().String()
	addrB := srvB.Listener.Addr().String()
	tgt := &seqTarget{pods: []capacity.Pod{{IP: "A", Addr: addrA}, {IP: "A", Addr: addrA}, {IP: "B", Addr: addrB}}}
	tr := &http.Transport{}
	var h http.Handler = NewForward(tr, ForwardConfig{HoldTimeout: time.Second, MaxAttempts: 4, DeadlineGrace: time.Second}, logr.Discard())
	h = NewAdmit(h, time.Second, nopObs{}, time.Now)
	h = NewResolve(h, oneResolver{tgt})
	h = NewRoute(h, "default")
	h = NewMetrics(h, NewCallMetrics(), time.Now)
	gw := httptest.NewServer(h)
	defer gw.Close()
	for i := 0; i < 2; i++ {
		resp, err := http.Get(gw.URL + "/invoke/fn/charge?card=1")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("call %d: %d %q", i, resp.StatusCode, b)
	}
	t.Logf("executions: A=%d B=%d, ConnFailed=%v", execA.Load(), execB.Load(), tgt.fails)
	if execA.Load() == 2 && execB.Load() == 1 {
		t.Errorf("the second GET ran on A (which died after receiving it) and was run again on B")
	}
}
