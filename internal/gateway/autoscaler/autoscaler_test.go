package autoscaler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
)

var (
	fnKey    = types.NamespacedName{Namespace: "ns", Name: "f"}
	otherKey = types.NamespacedName{Namespace: "ns", Name: "g"}
)

// tickSettings: one call per pod, up to 20 pods, a minute's scale-down
// delay, five minutes to idle.
var tickSettings = Settings{Min: 0, Max: 20, Concurrency: 1, TargetUtilization: 1,
	ScaleDownDelay: time.Minute, IdleTimeout: 5 * time.Minute}

func function(key types.NamespacedName, replicas, poolPods, ready int32) Function {
	return Function{Key: key, Settings: tickSettings, Replicas: replicas, SpecReplicas: replicas, PoolPods: poolPods, Ready: ready}
}

type fakeFunctions struct {
	mu  sync.Mutex
	fns []Function
}

func (f *fakeFunctions) Scalable() []Function {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.fns)
}

func (f *fakeFunctions) set(fns ...Function) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fns = fns
}

type scaleCall struct {
	key  types.NamespacedName
	want int32
}

// fakeScaler is the Function's scale subresource.
type fakeScaler struct {
	mu       sync.Mutex
	replicas map[types.NamespacedName]int32
	calls    []scaleCall
	err      error
}

func (s *fakeScaler) ScaleIf(_ context.Context, fn types.NamespacedName, want int32, cond func(int32) bool) (int32, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, scaleCall{fn, want})
	if s.err != nil {
		return 0, false, s.err
	}
	cur := s.replicas[fn]
	if !cond(cur) {
		return cur, false, nil
	}
	s.replicas[fn] = want
	return cur, true, nil
}

func (s *fakeScaler) takeCalls() []scaleCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

type fakeZeroer struct {
	mu        sync.Mutex
	idle      bool
	idleErr   error
	removeErr error
	asked     []time.Duration
	removed   []types.NamespacedName
}

func (z *fakeZeroer) PodsIdle(_ context.Context, _ types.NamespacedName, idle time.Duration) (bool, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.asked = append(z.asked, idle)
	return z.idle, z.idleErr
}

func (z *fakeZeroer) RemovePoolPods(_ context.Context, fn types.NamespacedName, _ int32) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.removed = append(z.removed, fn)
	return z.removeErr
}

type scaled struct {
	key      types.NamespacedName
	from, to int32
	reason   string
}

type fakeObserver struct {
	mu      sync.Mutex
	scaled  []scaled
	desired map[types.NamespacedName][]int32
}

func (o *fakeObserver) Scaled(fn types.NamespacedName, from, to int32, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.scaled = append(o.scaled, scaled{fn, from, to, reason})
}

func (o *fakeObserver) Desired(fn types.NamespacedName, desired int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.desired[fn] = append(o.desired[fn], desired)
}

func (o *fakeObserver) takeScaled() []scaled {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.scaled
	o.scaled = nil
	return s
}

// rig is an Autoscaler with one peer replica and a clock the test moves.
type rig struct {
	a      *Autoscaler
	local  *fakeLocal
	peer   *fakePeer
	fns    *fakeFunctions
	scaler *fakeScaler
	zeroer *fakeZeroer
	obs    *fakeObserver
	now    time.Time
}

func newRig(t *testing.T) *rig {
	r := &rig{
		local: &fakeLocal{r: Report{Replica: "me"}}, peer: newFakePeer(t), fns: &fakeFunctions{},
		scaler: &fakeScaler{replicas: map[types.NamespacedName]int32{}}, zeroer: &fakeZeroer{},
		obs: &fakeObserver{desired: map[types.NamespacedName][]int32{}}, now: t0,
	}
	r.peer.set(Report{Replica: "peer"}, "")
	r.a = &Autoscaler{
		Collector: &Collector{Local: r.local, Peers: peerList{r.peer.addr()}, Client: r.peer.srv.Client()},
		Functions: r.fns, Scaler: r.scaler, Zeroer: r.zeroer, Observer: r.obs,
		Timing: Timing{Interval: 2 * time.Second, BurstWindow: 6 * time.Second, ScrapeTimeout: 10 * time.Second},
		Log:    logr.Discard(), Now: func() time.Time { return r.now },
	}
	return r
}

// load sets what this replica and the peer report for ns/f.
func (r *rig) load(local, peer Load) {
	r.local.set(Report{Replica: "me", Functions: map[string]Load{fnKey.String(): local}})
	r.peer.set(Report{Replica: "peer", Functions: map[string]Load{fnKey.String(): peer}}, "")
}

// tickAt moves the clock to t0+at and ticks.
func (r *rig) tickAt(t *testing.T, at time.Duration) {
	r.now = t0.Add(at)
	r.a.Tick(t.Context())
}

func (r *rig) wantScaleCalls(t *testing.T, want ...scaleCall) {
	t.Helper()
	if got := r.scaler.takeCalls(); !slices.Equal(got, want) {
		t.Fatalf("at %v: ScaleIf calls %v, want %v", r.now.Sub(t0), got, want)
	}
}

func (r *rig) wantScaled(t *testing.T, want ...scaled) {
	t.Helper()
	if got := r.obs.takeScaled(); !slices.Equal(got, want) {
		t.Fatalf("at %v: Scaled %v, want %v", r.now.Sub(t0), got, want)
	}
}

func TestTickScalesFromZeroOnTheLoadOfEveryReplica(t *testing.T) {
	r := newRig(t)
	r.fns.set(function(fnKey, 0, 0, 0))
	r.load(Load{Waiting: 3}, Load{InFlight: 2, Waiting: 2})
	r.tickAt(t, 0)
	r.wantScaleCalls(t, scaleCall{fnKey, 7})
	r.wantScaled(t, scaled{fnKey, 0, 7, "demand"})

	// Demand falls while the pods start: nothing comes down.
	r.fns.set(function(fnKey, 7, 0, 0))
	r.load(Load{InFlight: 1}, Load{})
	r.tickAt(t, 2*time.Second)
	r.wantScaleCalls(t)

	// Ready now; demand stays low, but only for 4s of the minute's delay.
	r.fns.set(function(fnKey, 7, 0, 7))
	r.tickAt(t, 4*time.Second)
	r.wantScaleCalls(t)
	if got := r.obs.desired[fnKey]; !slices.Equal(got, []int32{7, 7, 7}) {
		t.Errorf("Desired told %v, want 7 every tick", got)
	}
}

func TestTickHoldsScaleDownWhileAPeerFails(t *testing.T) {
	for _, fail := range []string{"500", "json", "gone"} {
		t.Run(fail, func(t *testing.T) {
			r := newRig(t)
			s := tickSettings
			s.ScaleDownDelay = 0
			f := function(fnKey, 5, 0, 5)
			f.Settings = s
			r.fns.set(f)
			r.scaler.replicas[fnKey] = 5
			r.local.set(Report{Replica: "me", Functions: map[string]Load{fnKey.String(): {InFlight: 1}}})
			if fail == "gone" {
				dead := newFakePeer(t)
				r.a.Collector.Peers = peerList{r.peer.addr(), dead.addr()}
				dead.srv.Close()
			} else {
				r.peer.set(Report{}, fail)
			}
			r.tickAt(t, 0)
			r.tickAt(t, time.Hour) // however long
			r.wantScaleCalls(t)
			if got := r.obs.desired[fnKey]; !slices.Equal(got, []int32{5, 5}) {
				t.Errorf("Desired told %v, want 5 while a replica's demand is unknown", got)
			}
			if len(r.zeroer.asked) != 0 {
				t.Errorf("PodsIdle asked while a replica's demand is unknown")
			}

			// Every replica answers again: down to the demand.
			r.peer.set(Report{Replica: "peer"}, "")
			r.a.Collector.Peers = peerList{r.peer.addr()}
			r.tickAt(t, time.Hour+2*time.Second)
			r.wantScaleCalls(t, scaleCall{fnKey, 1})
			r.wantScaled(t, scaled{fnKey, 5, 1, "demand"})
		})
	}
}

func TestTickScaleDownAfterTheDelay(t *testing.T) {
	r := newRig(t)
	r.scaler.replicas[fnKey] = 6
	r.fns.set(function(fnKey, 6, 0, 6))
	r.load(Load{InFlight: 4}, Load{InFlight: 2})
	r.tickAt(t, 0)
	r.load(Load{InFlight: 1}, Load{InFlight: 1})
	r.tickAt(t, 30*time.Second)
	r.tickAt(t, 60*time.Second) // the recommendation of 6 is exactly a minute old
	r.wantScaleCalls(t)
	r.tickAt(t, 62*time.Second)
	r.wantScaleCalls(t, scaleCall{fnKey, 2})
	r.wantScaled(t, scaled{fnKey, 6, 2, "demand"})
}

func TestTickAveragesOverTheBurstWindow(t *testing.T) {
	r := newRig(t)
	r.scaler.replicas[fnKey] = 4
	r.fns.set(function(fnKey, 4, 0, 4))
	r.load(Load{InFlight: 4}, Load{})
	for at := time.Duration(0); at <= 4*time.Second; at += 2 * time.Second {
		r.tickAt(t, at)
	}
	r.wantScaleCalls(t)
	// Demand 7 (below a burst of twice the 4 ready pods) enters the 6s
	// window one sample a tick: [4 4 4 7] → 5, [4 4 7 7] → 6, [4 7 7 7] → 7.
	r.load(Load{InFlight: 5}, Load{Waiting: 2})
	for i, want := range []int32{5, 6, 7} {
		r.tickAt(t, time.Duration(6+2*i)*time.Second)
		r.wantScaleCalls(t, scaleCall{fnKey, want})
		r.fns.set(function(fnKey, want, 0, want))
	}
	r.tickAt(t, 12*time.Second)
	r.wantScaleCalls(t)
}

// TestTickActs: one tick, from what the function has and its load, to what
// is written and told.
func TestTickActs(t *testing.T) {
	errAPI := errors.New("api down")
	cases := []struct {
		name string
		fn   Function
		// idleFor is the idle time both replicas report; busy > 0 is calls
		// in flight on this replica; unseen: no replica reports it.
		idleFor   time.Duration
		busy      int
		unseen    bool
		podsIdle  bool
		idleErr   error
		removeErr error
		scalerErr error

		wantAsked   bool
		wantRemoved bool
		wantCalls   []int32
		wantScaled  []scaled
	}{
		{name: "busy: nothing to do", fn: function(fnKey, 1, 0, 1), busy: 1},
		{name: "idle below IdleTimeout: hold one pod", fn: function(fnKey, 1, 0, 1), idleFor: 299 * time.Second},
		{name: "idle below IdleTimeout: down to one pod", fn: function(fnKey, 3, 0, 3), idleFor: time.Minute,
			wantCalls: []int32{1}, wantScaled: []scaled{{fnKey, 3, 1, "waiting for the idle timeout"}}},
		{name: "idle: pods say they are busy", fn: function(fnKey, 1, 0, 1), idleFor: 300 * time.Second,
			wantAsked: true},
		{name: "idle: asking the pods failed", fn: function(fnKey, 1, 0, 1), idleFor: 300 * time.Second, podsIdle: true, idleErr: errAPI,
			wantAsked: true},
		{name: "idle: pods agree, to zero", fn: function(fnKey, 1, 0, 1), idleFor: 300 * time.Second, podsIdle: true,
			wantAsked: true, wantCalls: []int32{0}, wantScaled: []scaled{{fnKey, 1, 0, "idle"}}},
		{name: "reported by no replica counts as idle", fn: function(fnKey, 2, 0, 2), unseen: true, podsIdle: true,
			wantAsked: true, wantCalls: []int32{0}, wantScaled: []scaled{{fnKey, 2, 0, "idle"}}},
		{name: "already at zero: nothing asked", fn: function(fnKey, 0, 0, 0), unseen: true, podsIdle: true},
		{name: "pool pods are part of the target", fn: function(fnKey, 0, 2, 2), busy: 5,
			wantCalls: []int32{3}, wantScaled: []scaled{{fnKey, 0, 3, "demand"}}},
		{name: "pool pods beyond the demand go after the scale-down delay", fn: function(fnKey, 0, 2, 2), busy: 1,
			wantRemoved: true, wantScaled: []scaled{{fnKey, 2, 1, "demand: pool pods removed"}}},
		{name: "pool pods that cover the demand stay", fn: function(fnKey, 0, 2, 2), busy: 2},
		{name: "pool pods cover part of a scale-down", fn: function(fnKey, 4, 2, 6), busy: 3,
			wantCalls: []int32{1}, wantScaled: []scaled{{fnKey, 4, 1, "demand"}}},
		{name: "idle with pool pods only: they are removed", fn: function(fnKey, 0, 2, 2), unseen: true, podsIdle: true,
			wantAsked: true, wantRemoved: true, wantScaled: []scaled{{fnKey, 2, 0, "idle: pool pods removed"}}},
		{name: "idle with pool pods and replicas", fn: function(fnKey, 1, 1, 2), unseen: true, podsIdle: true,
			wantAsked: true, wantRemoved: true, wantCalls: []int32{0},
			wantScaled: []scaled{{fnKey, 2, 1, "idle: pool pods removed"}, {fnKey, 1, 0, "idle"}}},
		{name: "idle with pool pods, pods busy: nothing removed", fn: function(fnKey, 1, 1, 2), unseen: true,
			wantAsked: true},
		{name: "removing pool pods failed: the Deployment stays", fn: function(fnKey, 1, 1, 2), unseen: true, podsIdle: true, removeErr: errAPI,
			wantAsked: true, wantRemoved: true},
		{name: "scale write failed: nothing told", fn: function(fnKey, 0, 0, 0), busy: 2, scalerErr: errAPI,
			wantCalls: []int32{2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.scaler.replicas[fnKey] = tc.fn.Replicas
			r.scaler.err = tc.scalerErr
			r.zeroer.idle, r.zeroer.idleErr, r.zeroer.removeErr = tc.podsIdle, tc.idleErr, tc.removeErr
			r.fns.set(tc.fn)
			switch {
			case tc.unseen:
			case tc.busy > 0:
				r.load(Load{InFlight: tc.busy}, Load{IdleSeconds: 1000})
			default:
				r.load(Load{IdleSeconds: tc.idleFor.Seconds()}, Load{IdleSeconds: tc.idleFor.Seconds() + 100})
			}
			// Watched long enough that a scale-down may happen on this tick.
			r.a.history = map[types.NamespacedName]*history{fnKey: {since: t0.Add(-time.Hour)}}
			r.tickAt(t, 0)

			var want []scaleCall
			for _, n := range tc.wantCalls {
				want = append(want, scaleCall{fnKey, n})
			}
			r.wantScaleCalls(t, want...)
			r.wantScaled(t, tc.wantScaled...)
			if asked := len(r.zeroer.asked) > 0; asked != tc.wantAsked {
				t.Errorf("PodsIdle asked %v, want %v", r.zeroer.asked, tc.wantAsked)
			}
			for _, d := range r.zeroer.asked {
				if d != tickSettings.IdleTimeout {
					t.Errorf("PodsIdle asked about %v, want the IdleTimeout", d)
				}
			}
			if removed := len(r.zeroer.removed) > 0; removed != tc.wantRemoved {
				t.Errorf("RemovePoolPods %v, want %v", r.zeroer.removed, tc.wantRemoved)
			}
		})
	}
}

func TestTickDoesNotOverwriteAConcurrentScale(t *testing.T) {
	r := newRig(t)
	r.scaler.replicas[fnKey] = 3 // someone scaled after the autoscaler read 0
	r.fns.set(function(fnKey, 0, 0, 0))
	r.load(Load{InFlight: 5}, Load{})
	r.tickAt(t, 0)
	r.wantScaleCalls(t, scaleCall{fnKey, 5})
	r.wantScaled(t)
	if got := r.scaler.replicas[fnKey]; got != 3 {
		t.Errorf("replicas = %d, want the concurrent 3 kept", got)
	}
}

func TestTickForgetsDeletedFunctions(t *testing.T) {
	r := newRig(t)
	r.fns.set(function(fnKey, 0, 0, 0), function(otherKey, 0, 0, 0))
	r.load(Load{InFlight: 10}, Load{})
	r.tickAt(t, 0)
	r.wantScaleCalls(t, scaleCall{fnKey, 10})
	if len(r.a.history) != 2 {
		t.Fatalf("history of %d functions, want 2", len(r.a.history))
	}

	// ns/f is deleted.
	r.fns.set(function(otherKey, 0, 0, 0))
	r.tickAt(t, 2*time.Second)
	if _, ok := r.a.history[fnKey]; ok || len(r.a.history) != 1 {
		t.Fatalf("history %v, want ns/f forgotten", keys(r.a.history))
	}

	// A new ns/f with 10 pods and little demand: its old recommendation of
	// 10 does not hold it up once it was watched for the scale-down delay.
	r.scaler.replicas[fnKey] = 10
	r.fns.set(function(fnKey, 10, 0, 10), function(otherKey, 0, 0, 0))
	r.load(Load{InFlight: 1}, Load{})
	r.tickAt(t, 4*time.Second)
	r.wantScaleCalls(t)
	r.tickAt(t, 4*time.Second+time.Minute)
	r.wantScaleCalls(t, scaleCall{fnKey, 1})
}

func keys[V any](m map[types.NamespacedName]V) []string {
	var out []string
	for k := range m {
		out = append(out, k.String())
	}
	slices.Sort(out)
	return out
}

func TestTickSizesEveryFunction(t *testing.T) {
	r := newRig(t)
	r.fns.set(function(fnKey, 0, 0, 0), function(otherKey, 0, 0, 0))
	r.local.set(Report{Replica: "me", Functions: map[string]Load{fnKey.String(): {InFlight: 2}, otherKey.String(): {Waiting: 1}}})
	r.peer.set(Report{Replica: "peer", Functions: map[string]Load{otherKey.String(): {Waiting: 3}}}, "")
	r.tickAt(t, 0)
	got := r.scaler.takeCalls()
	slices.SortFunc(got, func(a, b scaleCall) int { return int(a.want - b.want) })
	if want := []scaleCall{{fnKey, 2}, {otherKey, 4}}; !slices.Equal(got, want) {
		t.Errorf("ScaleIf calls %v, want %v", got, want)
	}
	if fmt.Sprint(r.obs.desired[fnKey], r.obs.desired[otherKey]) != "[2] [4]" {
		t.Errorf("Desired told %v", r.obs.desired)
	}
}

func TestRunTicksEveryIntervalUntilCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var ticks []time.Duration
		start := time.Now()
		a := &Autoscaler{
			Collector: &Collector{Local: &fakeLocal{}, Peers: peerList(nil)},
			Functions: functionsFunc(func() []Function {
				mu.Lock()
				defer mu.Unlock()
				ticks = append(ticks, time.Since(start))
				return nil
			}),
			Timing: Timing{Interval: 2 * time.Second, BurstWindow: 6 * time.Second, ScrapeTimeout: time.Second},
			Log:    logr.Discard(), Now: time.Now,
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			a.Run(ctx)
			close(done)
		}()
		time.Sleep(7 * time.Second)
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if want := []time.Duration{2 * time.Second, 4 * time.Second, 6 * time.Second}; !slices.Equal(ticks, want) {
			t.Errorf("ticks at %v, want %v", ticks, want)
		}
	})
}

type functionsFunc func() []Function

func (f functionsFunc) Scalable() []Function { return f() }
