package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	return t.Acquire(ctx, holdTimeout)
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
