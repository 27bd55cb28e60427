package autoscaler

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestMerge(t *testing.T) {
	cases := []struct {
		name    string
		reports []Report
		want    map[string]merged
	}{
		{"nothing", nil, map[string]merged{}},
		{"a replica with no functions", []Report{{Replica: "a"}}, map[string]merged{}},
		{"one idle function", []Report{
			{Functions: map[string]Load{"ns/f": {IdleSeconds: 30}}},
		}, map[string]merged{"ns/f": {idleSeconds: 30, seen: true}}},
		{"in flight and waiting are summed over replicas", []Report{
			{Functions: map[string]Load{"ns/f": {InFlight: 2, Waiting: 1}}},
			{Functions: map[string]Load{"ns/f": {InFlight: 4, Waiting: 3}}},
		}, map[string]merged{"ns/f": {concurrency: 10, seen: true}}},
		{"the shortest idle time wins", []Report{
			{Functions: map[string]Load{"ns/f": {IdleSeconds: 50}}},
			{Functions: map[string]Load{"ns/f": {IdleSeconds: 20}}},
			{Functions: map[string]Load{"ns/f": {IdleSeconds: 90}}},
		}, map[string]merged{"ns/f": {idleSeconds: 20, seen: true}}},
		{"a busy replica is not idle whatever it reports", []Report{
			{Functions: map[string]Load{"ns/f": {IdleSeconds: 50}}},
			{Functions: map[string]Load{"ns/f": {Waiting: 1, IdleSeconds: 99}}},
		}, map[string]merged{"ns/f": {concurrency: 1, seen: true}}},
		{"a busy replica first", []Report{
			{Functions: map[string]Load{"ns/f": {InFlight: 1, IdleSeconds: 99}}},
			{Functions: map[string]Load{"ns/f": {IdleSeconds: 50}}},
		}, map[string]merged{"ns/f": {concurrency: 1, seen: true}}},
		{"functions are kept apart", []Report{
			{Functions: map[string]Load{"ns/f": {InFlight: 1}, "ns/g": {IdleSeconds: 7}}},
			{Functions: map[string]Load{"other/f": {Waiting: 2}}},
		}, map[string]merged{
			"ns/f":    {concurrency: 1, seen: true},
			"ns/g":    {idleSeconds: 7, seen: true},
			"other/f": {concurrency: 2, seen: true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(reports []Report) {
				t.Helper()
				got := merge(reports)
				if len(got) != len(tc.want) {
					t.Fatalf("merge = %+v, want %+v", got, tc.want)
				}
				for k, w := range tc.want {
					if got[k] != w {
						t.Errorf("merge[%s] = %+v, want %+v", k, got[k], w)
					}
				}
			}
			check(tc.reports)
			// The order replicas answered in does not matter.
			rev := make([]Report, len(tc.reports))
			for i, r := range tc.reports {
				rev[len(rev)-1-i] = r
			}
			check(rev)
		})
	}
}

// fakeLocal is this replica's own load.
type fakeLocal struct {
	mu sync.Mutex
	r  Report
}

func (l *fakeLocal) Report() Report {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r
}

func (l *fakeLocal) set(r Report) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.r = r
}

type peerList []string

func (p peerList) PeerAddrs() []string { return p }

// fakePeer is another gateway replica's admin port.
type fakePeer struct {
	srv *httptest.Server
	mu  sync.Mutex
	r   Report
	// fail, when set, is how the peer answers instead: "500" or "json".
	fail  string
	paths []string
}

func newFakePeer(t *testing.T) *fakePeer {
	p := &fakePeer{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.paths = append(p.paths, r.Method+" "+r.URL.Path)
		rep, fail := p.r, p.fail
		p.mu.Unlock()
		switch {
		case r.Method != http.MethodGet || r.URL.Path != LoadPath:
			http.NotFound(w, r)
		case fail == "500":
			http.Error(w, "boom", http.StatusInternalServerError)
		case fail == "json":
			_, _ = w.Write([]byte(`{"functions": [`))
		default:
			_ = json.NewEncoder(w).Encode(rep)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakePeer) addr() string { return p.srv.Listener.Addr().String() }

func (p *fakePeer) set(r Report, fail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.r, p.fail = r, fail
}

func TestCollect(t *testing.T) {
	ok := newFakePeer(t)
	ok.set(Report{Replica: "ok", Functions: map[string]Load{"ns/f": {InFlight: 2}}}, "")
	broken := newFakePeer(t)
	broken.set(Report{}, "500")
	badJSON := newFakePeer(t)
	badJSON.set(Report{}, "json")
	closed := newFakePeer(t)
	closedAddr := closed.addr()
	closed.srv.Close()

	local := &fakeLocal{r: Report{Replica: "me", Functions: map[string]Load{"ns/f": {Waiting: 1}}}}
	cases := []struct {
		name         string
		peers        []string
		canceled     bool
		wantReplicas string
		wantErrs     int
	}{
		{"alone", nil, false, "me", 0},
		{"one peer", []string{ok.addr()}, false, "me,ok", 0},
		{"a peer answering 500", []string{ok.addr(), broken.addr()}, false, "me,ok", 1},
		{"a peer answering bad JSON", []string{badJSON.addr(), ok.addr()}, false, "me,ok", 1},
		{"a peer gone", []string{closedAddr}, false, "me", 1},
		{"a bad address", []string{"no such host:::"}, false, "me", 1},
		{"the round's context ended", []string{ok.addr(), ok.addr()}, true, "me", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Collector{Local: local, Peers: peerList(tc.peers), Client: ok.srv.Client()}
			ctx := t.Context()
			if tc.canceled {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				cancel()
			}
			reports, complete, errs := c.Collect(ctx)
			var names []string
			for _, r := range reports {
				names = append(names, r.Replica)
			}
			// The local report comes first; peers in any order.
			if got := strings.Join(names, ","); got != tc.wantReplicas {
				t.Errorf("reports from %s, want %s", got, tc.wantReplicas)
			}
			if len(errs) != tc.wantErrs || complete != (tc.wantErrs == 0) {
				t.Errorf("complete %v errs %v, want %d errors", complete, errs, tc.wantErrs)
			}
		})
	}
	ok.mu.Lock()
	defer ok.mu.Unlock()
	for _, p := range ok.paths {
		if p != "GET "+LoadPath {
			t.Errorf("peer asked for %q, want GET %s", p, LoadPath)
		}
	}
}
