package backends

import (
	"context"
	"sync"
	"time"
)

// ProbeFunc asks a pod once whether it is ready.
type ProbeFunc func(ctx context.Context, ip string) bool

// ProbeTiming is how a Tracker probes a pod: every Interval for FastFor
// (a starting runner is usually ready within it), then backing off to
// MaxInterval, for at most Timeout.
type ProbeTiming struct {
	Interval, FastFor, MaxInterval, Timeout time.Duration
}

// Tracker runs a function's State: it applies events under a lock, tells
// onReady the ready pods after every change, in order, and probes the pods
// the State asks for until they are ready or no longer wanted.
type Tracker struct {
	ctx     context.Context // ends every probe
	probe   ProbeFunc
	timing  ProbeTiming
	onReady func(ready []string)

	mu    sync.Mutex
	state State    // guarded by mu
	ready []string // the last ready set; guarded by mu
}

// NewTracker makes a Tracker whose probes end with ctx.
func NewTracker(ctx context.Context, probe ProbeFunc, timing ProbeTiming, onReady func(ready []string)) *Tracker {
	return &Tracker{ctx: ctx, probe: probe, timing: timing, onReady: onReady}
}

// Apply records ev.
func (t *Tracker) Apply(ev Event) {
	t.mu.Lock()
	r := t.state.Apply(ev)
	changed := !equal(r.Ready, t.ready)
	t.ready = r.Ready
	if changed {
		// Under mu, so listeners see ready sets in the order they were made.
		t.onReady(r.Ready)
	}
	t.mu.Unlock()
	for _, ip := range r.Probe {
		go t.run(ip)
	}
}

// Ready returns the pods calls may go to now.
func (t *Tracker) Ready() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ready
}

func (t *Tracker) wanted(ip string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state.Wanted(ip)
}

// run probes ip until it answers ready, is no longer wanted, or the probe
// times out, backing off from Interval to MaxInterval.
func (t *Tracker) run(ip string) {
	start := time.Now()
	deadline := start.Add(t.timing.Timeout)
	interval := t.timing.Interval
	for time.Now().Before(deadline) {
		if !t.wanted(ip) {
			// Not given up: if it is wanted again, it is probed again.
			t.Apply(Event{Kind: ProbeStopped, IP: ip})
			return
		}
		if t.probe(t.ctx, ip) {
			t.Apply(Event{Kind: ProbeOK, IP: ip})
			return
		}
		select {
		case <-t.ctx.Done():
			return // the function is gone
		case <-time.After(min(interval, time.Until(deadline))):
		}
		if time.Since(start) > t.timing.FastFor {
			interval = min(interval*2, t.timing.MaxInterval)
		}
	}
	t.Apply(Event{Kind: ProbeGaveUp, IP: ip})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
