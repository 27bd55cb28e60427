package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/minifaas/minifaas/internal/gateway/capacity"
)

// ColdStartHeader tells the caller that its call waited for the function's
// first pod, and which path gave it: "pool" or "deployment".
const ColdStartHeader = "X-Faas-Cold-Start"

// ColdStartObserver is told about calls that waited for a first pod.
type ColdStartObserver interface {
	ColdStart(function, path string, waited time.Duration, ok bool)
}

type admitMW struct {
	next        http.Handler
	holdTimeout time.Duration
	obs         ColdStartObserver
	now         func() time.Time
}

var _ http.Handler = (*admitMW)(nil)

// NewAdmit holds the call until a pod of its function has a free slot,
// within holdTimeout, and releases the slot when the call ends.
func NewAdmit(next http.Handler, holdTimeout time.Duration, obs ColdStartObserver, now func() time.Time) http.Handler {
	return &admitMW{next: next, holdTimeout: holdTimeout, obs: obs, now: now}
}

func (h *admitMW) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallOf(r)
	slot, cold, err := acquire(r.Context(), c.Target, h.holdTimeout)
	if cold {
		c.Cold = "deployment"
		if err == nil && slot.Pod.FromPool {
			c.Cold = "pool"
		}
		h.obs.ColdStart(c.Function, c.Cold, h.now().Sub(c.Start), err == nil)
	}
	if err != nil {
		if r.Context().Err() != nil {
			return // the caller went away while waiting
		}
		WriteError(w, c.Function, holdError(c, err))
		return
	}
	c.Slot, c.held = slot, true
	defer func() {
		if c.held {
			c.Target.Release(c.Slot)
		}
	}()
	if c.Cold != "" {
		w.Header().Set(ColdStartHeader, c.Cold)
	}
	h.next.ServeHTTP(w, r)
}

// acquire waits for a slot within holdTimeout.
func acquire(ctx context.Context, t Target, holdTimeout time.Duration) (capacity.Slot, bool, error) {
	hold := &holdCtx{Context: ctx, deadline: time.Now().Add(holdTimeout)}
	defer hold.stop()
	return t.Acquire(hold)
}

// holdCtx is ctx bounded by deadline, whose timer is made only when a
// Target asks for Done, that is when it has to wait: a warm call that finds
// a free slot at once pays for no timer, no cancel context and no child
// registered with the call's context (seven allocations a call, per the
// handler chain's allocation profile).
type holdCtx struct {
	context.Context
	deadline time.Time

	once   sync.Once
	bound  context.Context // set once, by init
	cancel context.CancelFunc
}

func (h *holdCtx) init() {
	h.once.Do(func() { h.bound, h.cancel = context.WithDeadline(h.Context, h.deadline) })
}

func (h *holdCtx) Deadline() (time.Time, bool) {
	if d, ok := h.Context.Deadline(); ok && d.Before(h.deadline) {
		return d, true
	}
	return h.deadline, true
}

func (h *holdCtx) Done() <-chan struct{} { h.init(); return h.bound.Done() }

func (h *holdCtx) Err() error { h.init(); return h.bound.Err() }

// stop releases the timer, if one was made; after it, the wait is over and
// the context is the call's.
func (h *holdCtx) stop() {
	h.once.Do(func() { h.bound = h.Context })
	if h.cancel != nil {
		h.cancel()
	}
}

// holdError explains a failed wait.
func holdError(c *Call, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		reason := c.Target.WaitReason()
		if reason == "" {
			reason = "no pod became ready"
		}
		return fmt.Errorf("%w: %s has no ready pod (%s)", ErrColdStartTimeout, c.Function, reason)
	}
	return err
}
