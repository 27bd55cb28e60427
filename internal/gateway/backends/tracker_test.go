package backends

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeProber answers probes from a script and records when each came.
type fakeProber struct {
	mu    sync.Mutex
	start time.Time
	// ok tells whether the n-th probe (from 1) of ip succeeds.
	ok    func(ip string, n int) bool
	calls map[string][]time.Duration
}

func newFakeProber(ok func(ip string, n int) bool) *fakeProber {
	return &fakeProber{start: time.Now(), ok: ok, calls: map[string][]time.Duration{}}
}

func (p *fakeProber) probe(_ context.Context, ip string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[ip] = append(p.calls[ip], time.Since(p.start))
	return p.ok(ip, len(p.calls[ip]))
}

func (p *fakeProber) times(ip string) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls[ip])
}

// readyLog records what onReady was told, and when.
type readyLog struct {
	mu    sync.Mutex
	start time.Time
	sets  [][]string
	at    []time.Duration
}

func (l *readyLog) onReady(r []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sets = append(l.sets, slices.Clone(r))
	l.at = append(l.at, time.Since(l.start))
}

func (l *readyLog) get() ([][]string, []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.sets), slices.Clone(l.at)
}

func never(string, int) bool { return false }

var timing = ProbeTiming{Interval: time.Second, FastFor: 3 * time.Second, MaxInterval: 4 * time.Second, Timeout: time.Hour}

func TestTrackerTellsReadySetsInOrderOnlyWhenChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(never)
		log := &readyLog{start: time.Now()}
		tr := NewTracker(t.Context(), p.probe, timing, log.onReady)
		steps := []struct {
			ev   Event
			want []string
		}{
			{slice("s1", ready("a")), ips("a")},
			{slice("s1", ready("a")), ips("a")},
			{slice("s1", ready("b"), ready("a")), ips("a", "b")},
			{slice("s1", ready("a"), ready("b")), ips("a", "b")},
			{slice("s2", ready("c"), terminating("d")), ips("a", "b", "c")},
			{specialized("e"), ips("a", "b", "c", "e")},
			{connFailed("zz"), ips("a", "b", "c", "e")},
			{sliceDeleted("s1"), ips("c", "e")},
			{retired("e"), ips("c")},
			{sliceDeleted("s2"), nil},
			{sliceDeleted("s2"), nil},
		}
		for i, st := range steps {
			tr.Apply(st.ev)
			if got := tr.Ready(); !same(got, st.want) {
				t.Fatalf("step %d %s: Ready() = %v, want %v", i, describe(st.ev), got, st.want)
			}
		}
		sets, _ := log.get()
		want := "[[a] [a b] [a b c] [a b c e] [c e] [c] []]"
		if fmt.Sprint(sets) != want {
			t.Errorf("onReady got %v, want %s: every change once, in order", sets, want)
		}
		synctest.Wait()
		if n := len(p.times("d")) + len(p.times("zz")); n != 0 {
			t.Errorf("%d probes of a terminating or unknown pod", n)
		}
	})
}

func TestTrackerProbesUntilReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(func(_ string, n int) bool { return n == 4 })
		log := &readyLog{start: time.Now()}
		tr := NewTracker(t.Context(), p.probe, timing, log.onReady)
		tr.Apply(slice("s1", notReady("a")))
		time.Sleep(time.Minute)
		synctest.Wait()

		if got, want := p.times("a"), []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(got, want) {
			t.Errorf("probes at %v, want %v: every Interval until it answers", got, want)
		}
		sets, at := log.get()
		if fmt.Sprint(sets) != "[[a]]" || !slices.Equal(at, []time.Duration{3 * time.Second}) {
			t.Errorf("onReady %v at %v, want [[a]] at 3s", sets, at)
		}
		// The kubelet agrees later: no change to tell.
		tr.Apply(slice("s1", ready("a")))
		if sets, _ := log.get(); len(sets) != 1 {
			t.Errorf("onReady called again with the same set: %v", sets)
		}
	})
}

func TestTrackerBacksOffAndStopsWhenNotWanted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(never)
		log := &readyLog{start: time.Now()}
		tr := NewTracker(t.Context(), p.probe, timing, log.onReady)
		tr.Apply(slice("s1", notReady("a")))
		time.Sleep(20 * time.Second)
		synctest.Wait()
		// Every second for FastFor (3s), then doubling up to MaxInterval (4s).
		want := []time.Duration{0, 1, 2, 3, 4, 6, 10, 14, 18}
		for i := range want {
			want[i] *= time.Second
		}
		if got := p.times("a"); !slices.Equal(got, want) {
			t.Fatalf("probes at %v, want %v", got, want)
		}

		// The kubelet says ready: the probe stops at its next turn.
		tr.Apply(slice("s1", ready("a")))
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := p.times("a"); len(got) != len(want) {
			t.Errorf("probes went on after the pod was ready: %v", got[len(want):])
		}
		// Ended by the synctest bubble: no probe goroutine is left.
	})
}

func TestTrackerStopsProbingARetiredPod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(never)
		log := &readyLog{start: time.Now()}
		tr := NewTracker(t.Context(), p.probe, timing, log.onReady)
		tr.Apply(elsewhere("p"))
		time.Sleep(1500 * time.Millisecond)
		tr.Apply(retired("p"))
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := p.times("p"); len(got) != 2 {
			t.Errorf("probes at %v, want 2 before the pod was retired", got)
		}
		if sets, _ := log.get(); len(sets) != 0 {
			t.Errorf("onReady %v, want no change", sets)
		}
	})
}

func TestTrackerProbesAPodWhoseConnectionFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(func(_ string, n int) bool { return n == 2 })
		log := &readyLog{start: time.Now()}
		tr := NewTracker(t.Context(), p.probe, timing, log.onReady)
		tr.Apply(slice("s1", ready("a"), ready("b")))
		tr.Apply(connFailed("a"))
		time.Sleep(time.Minute)
		synctest.Wait()
		sets, at := log.get()
		if fmt.Sprint(sets) != "[[a b] [b] [a b]]" || !slices.Equal(at, []time.Duration{0, 0, time.Second}) {
			t.Errorf("onReady %v at %v, want a out at once and back after its second probe at 1s", sets, at)
		}
	})
}

// TestTrackerProbeTimeoutEndsProbing: a probe ends after Timeout and the
// pod is not probed again until the cluster says something new of it.
func TestTrackerProbeTimeoutEndsProbing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(never)
		tm := ProbeTiming{Interval: time.Second, FastFor: 2 * time.Second, MaxInterval: 10 * time.Second, Timeout: 10 * time.Second}
		tr := NewTracker(t.Context(), p.probe, tm, func([]string) {})
		tr.Apply(slice("s1", notReady("a")))
		time.Sleep(time.Minute)
		synctest.Wait()
		// Every second for FastFor (2s), then 2s, 4s, 8s: the wait at 9s
		// crosses the 10s deadline, and no probe follows.
		want := []time.Duration{0, 1, 2, 3, 5, 9}
		for i := range want {
			want[i] *= time.Second
		}
		if got := p.times("a"); !slices.Equal(got, want) {
			t.Fatalf("probes at %v, want %v", got, want)
		}
		// The slice lists it again: a new probe, from the fast interval.
		tr.Apply(slice("s1", notReady("a")))
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		want = append(want, 60*time.Second, 61*time.Second)
		if got := p.times("a"); !slices.Equal(got, want) {
			t.Errorf("probes at %v, want %v", got, want)
		}
		tr.Apply(sliceDeleted("s1"))
		time.Sleep(time.Minute)
	})
}

// TestTrackerProbesEndWithItsContext: once the Tracker's context is done
// (its function was deleted), no probe runs again: a probe ending with the
// context must not report ProbeGaveUp, which would ask for another probe
// that ends at once, forever.
func TestTrackerProbesEndWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		afterCancel := 0
		stuck := make(chan struct{})
		probe := func(pctx context.Context, ip string) bool {
			if pctx.Err() == nil {
				return false
			}
			mu.Lock()
			afterCancel++
			n := afterCancel
			mu.Unlock()
			if n >= 20 {
				// Park the runaway chain so the test can report it.
				<-stuck
			}
			return false
		}
		tr := NewTracker(ctx, probe, timing, func([]string) {})
		tr.Apply(slice("s1", notReady("a"), notReady("b")))
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()

		cancel()
		time.Sleep(time.Minute)
		synctest.Wait()
		mu.Lock()
		n := afterCancel
		mu.Unlock()
		if n > 0 {
			t.Errorf("%d probes ran after the Tracker's context ended, want none: "+
				"ProbeGaveUp on ctx.Done re-requests a probe that gives up at once, forever", n)
		}
		// Let any parked chain end: nothing is wanted any more.
		tr.Apply(sliceDeleted("s1"))
		close(stuck)
	})
}

// TestTrackerConcurrentApply: many writers; the last set told is the set
// Ready returns, and it is what the events make. Run with -race.
func TestTrackerConcurrentApply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(func(string, int) bool { return true })
		log := &readyLog{start: time.Now()}
		tr := NewTracker(t.Context(), p.probe, timing, log.onReady)
		var wg sync.WaitGroup
		const writers = 16
		for w := range writers {
			wg.Go(func() {
				name := fmt.Sprintf("s%d", w)
				ip := fmt.Sprintf("10.0.0.%d", w)
				for i := range 50 {
					switch i % 3 {
					case 0:
						tr.Apply(slice(name, notReady(ip)))
					case 1:
						tr.Apply(slice(name, ready(ip)))
					case 2:
						tr.Apply(connFailed(ip))
					}
				}
				tr.Apply(slice(name, ready(ip)))
				if w%2 == 1 {
					tr.Apply(sliceDeleted(name))
				}
			})
		}
		wg.Wait()
		time.Sleep(time.Minute) // every probe ends
		synctest.Wait()
		var want []string
		for w := 0; w < writers; w += 2 {
			want = append(want, fmt.Sprintf("10.0.0.%d", w))
		}
		slices.Sort(want)
		got := tr.Ready()
		if !slices.Equal(got, want) {
			t.Fatalf("Ready() = %v, want %v", got, want)
		}
		sets, _ := log.get()
		if last := sets[len(sets)-1]; !slices.Equal(last, want) {
			t.Errorf("last onReady %v, want %v", last, want)
		}
		for i := 1; i < len(sets); i++ {
			if slices.Equal(sets[i], sets[i-1]) {
				t.Errorf("onReady told %v twice in a row", sets[i])
			}
		}
	})
}
