package gateway

import (
	"context"
	"fmt"
	"time"
)

// scaleUpRequester starts a scale-up from zero for a function; the
// gateway calls it at most once per burst (see function.scaling).
type scaleUpRequester func(f *function)

// acquire reserves a slot on a ready pod of f, waiting while there is none:
// it asks for a scale-up from zero once per burst, and wakes when a pod
// appears or a slot frees. cold tells whether the call had to wait for the
// function to have a pod at all. Waiting is bounded by ctx (ErrColdStartTimeout)
// and by maxWaiting (ErrQueueFull).
func (f *function) acquire(ctx context.Context, maxWaiting int, now func() time.Time, scaleUp scaleUpRequester) (p *pod, cold bool, err error) {
	f.mu.Lock()
	for {
		if p := f.pickLocked(); p != nil {
			p.inFlight++
			f.inFlight++
			f.mu.Unlock()
			return p, cold, nil
		}
		if n := f.waiting; n >= maxWaiting {
			f.mu.Unlock()
			return nil, cold, fmt.Errorf("%w: %d calls are already waiting for %s", ErrQueueFull, n, f.key)
		}
		if len(f.pods) == 0 {
			cold = true
			f.maybeScaleUpLocked(now(), scaleUp)
		}
		// Take the channel before unlocking: a broadcast after this point
		// closes this very channel, so no wake-up is lost.
		ch := f.changed
		f.waiting++
		f.lastActivity = now()
		f.mu.Unlock()

		select {
		case <-ch:
		case <-ctx.Done():
		}

		f.mu.Lock()
		f.waiting--
		if ctx.Err() != nil {
			f.mu.Unlock()
			return nil, cold, f.holdTimeoutError(ctx)
		}
	}
}

// release frees p's slot and wakes the waiting calls.
func (f *function) release(p *pod, now time.Time) {
	f.mu.Lock()
	p.inFlight--
	f.inFlight--
	f.lastActivity = now
	if f.waiting > 0 {
		f.broadcastLocked()
	}
	f.mu.Unlock()
}

// pickLocked returns the ready pod with the fewest calls in flight below
// the function's concurrency, starting from the round-robin position so
// equally loaded pods share the work; nil when all are full. f.mu must be held.
func (f *function) pickLocked() *pod {
	n := len(f.order)
	if n == 0 {
		return nil
	}
	limit := f.info.Load().Concurrency
	var best *pod
	for i := 0; i < n; i++ {
		p := f.order[(f.next+i)%n]
		if p.inFlight < limit && (best == nil || p.inFlight < best.inFlight) {
			best = p
		}
	}
	f.next = (f.next + 1) % n
	return best
}

// scaleRetryBackoff is how long after a failed scale-up the next is tried.
const scaleRetryBackoff = time.Second

// maybeScaleUpLocked asks for a scale-up from zero unless one is under way,
// the Function already wants pods, or the last attempt failed less than
// scaleRetryBackoff ago. f.mu must be held.
func (f *function) maybeScaleUpLocked(now time.Time, scaleUp scaleUpRequester) {
	if f.scaling || f.info.Load().Desired > 0 || now.Sub(f.lastScaleFailure) < scaleRetryBackoff {
		return
	}
	f.scaling = true
	scaleUp(f)
}

// scaleUpDone records the end of a scale-up request. After a failure the
// waiting calls are woken once the backoff has passed, so one of them
// tries again; a single timer per function, not one per call.
func (f *function) scaleUpDone(err error, now time.Time) {
	if err == nil {
		return
	}
	f.mu.Lock()
	f.scaling = false
	f.lastScaleFailure = now
	f.mu.Unlock()
	time.AfterFunc(scaleRetryBackoff, func() {
		f.mu.Lock()
		f.broadcastLocked()
		f.mu.Unlock()
	})
}

func (f *function) holdTimeoutError(ctx context.Context) error {
	if ctx.Err() == context.Canceled {
		return ctx.Err()
	}
	reason := f.info.Load().ReadyMessage
	if reason == "" {
		reason = "no pod became ready"
	}
	return fmt.Errorf("%w: %s has no ready pod (%s)", ErrColdStartTimeout, f.key, reason)
}
