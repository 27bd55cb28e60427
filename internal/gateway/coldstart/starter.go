package coldstart

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// Scaler changes a Function's desired replicas through its scale
// subresource: to want if cond holds for the current value, atomically.
type Scaler interface {
	ScaleIf(ctx context.Context, fn types.NamespacedName, want int32, cond func(current int32) bool) (from int32, changed bool, err error)
}

// PoolClaimer gives a function a pod from a pool.
type PoolClaimer interface {
	// Claim specializes a pool pod for fn. It returns ErrNoPoolPod when
	// there is none to be had, or an error wrapping pool.ErrUnloadable.
	Claim(ctx context.Context, fn types.NamespacedName) error
}

// ErrNoPoolPod means the pool path has nothing for the function.
var ErrNoPoolPod = errors.New("no pool pod to claim")

// Observer is told how starts went.
type Observer interface {
	ScaledFromZero(fn types.NamespacedName, from int32)
	// Failed reports a start that gave the function nothing.
	Failed(fn types.NamespacedName, err error)
}

// Timing bounds a start.
type Timing struct {
	// Timeout bounds one start; RetryBackoff is how long after a failed one
	// the next may begin.
	Timeout, RetryBackoff time.Duration
	// AskGrace is how long after a successful ask for a replica no other is
	// made, while the informer catches up with it; State.Forget ends it
	// early when the function is seen scaled to zero again.
	AskGrace time.Duration
}

// Starter runs starts in the background, at most one per function at once.
type Starter struct {
	bg     context.Context
	scaler Scaler
	pool   PoolClaimer
	obs    Observer
	timing Timing
	log    logr.Logger
	now    func() time.Time
}

// NewStarter makes a Starter whose work ends with bg.
func NewStarter(bg context.Context, scaler Scaler, pool PoolClaimer, obs Observer, timing Timing, log logr.Logger, now func() time.Time) *Starter {
	return &Starter{bg: bg, scaler: scaler, pool: pool, obs: obs, timing: timing, log: log, now: now}
}

// State is one function's start bookkeeping; the zero value is ready.
type State struct {
	mu          sync.Mutex
	running     bool      // a start is under way; guarded by mu
	lastFailure time.Time // guarded by mu
	askedAt     time.Time // the last successful ask for a replica; guarded by mu
}

// Forget ends the grace of the last ask: the function was seen scaled to
// zero after it, so the next waiting call asks again.
func (st *State) Forget() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.askedAt = time.Time{}
}

// Request is one ask for pods.
type Request struct {
	Function types.NamespacedName
	// UsePool tries the pool first.
	UsePool bool
	// Deploy falls back to one Deployment replica when the pool has
	// nothing; false for a scale-out, which the autoscaler does otherwise.
	Deploy bool
	// Again, if set, runs once the start has ended and another may begin.
	Again func()
}

// Start begins a start for req unless one is under way or the last one
// failed less than RetryBackoff ago; it reports whether it began one.
func (s *Starter) Start(st *State, req Request) bool {
	st.mu.Lock()
	now := s.now()
	if st.running || now.Sub(st.lastFailure) < s.timing.RetryBackoff ||
		(req.Deploy && now.Sub(st.askedAt) < s.timing.AskGrace) {
		st.mu.Unlock()
		return false
	}
	st.running = true
	st.mu.Unlock()
	go s.run(st, req)
	return true
}

// Running tells whether a start is under way.
func (st *State) Running() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.running
}

func (s *Starter) run(st *State, req Request) {
	ctx, cancel := context.WithTimeout(s.bg, s.timing.Timeout)
	defer cancel()
	asked, err := s.start(ctx, req)
	st.mu.Lock()
	st.running = false
	// A scale-out that found no pool pod is no failure of a cold start.
	if err != nil && (req.Deploy || !errors.Is(err, ErrNoPoolPod)) {
		st.lastFailure = s.now()
	}
	if asked {
		st.askedAt = s.now()
	}
	st.mu.Unlock()
	if err != nil && !errors.Is(err, ErrNoPoolPod) {
		s.obs.Failed(req.Function, err)
	}
	if err == nil && req.Again != nil {
		req.Again()
	}
}

// start gives the function a pod; asked tells whether the Deployment was
// asked for a replica.
func (s *Starter) start(ctx context.Context, req Request) (asked bool, err error) {
	if req.UsePool && s.pool != nil {
		err := s.pool.Claim(ctx, req.Function)
		switch {
		case err == nil:
			return false, nil
		case !errors.Is(err, ErrNoPoolPod):
			// Unloadable code: the Deployment would fail the same way; the
			// callers are told now.
			return false, err
		}
	}
	if !req.Deploy {
		return false, ErrNoPoolPod
	}
	// The pool may have used this start's time: the Deployment gets its own.
	ctx, cancel := context.WithTimeout(s.bg, s.timing.Timeout)
	defer cancel()
	var from int32
	var changed bool
	// Another replica scaling the same function at once makes this one
	// conflict; re-reading then finds the replica it asked for.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var err error
		from, changed, err = s.scaler.ScaleIf(ctx, req.Function, 1, func(cur int32) bool { return cur < 1 })
		return err
	})
	if err != nil {
		s.log.Error(err, "Failed to scale function from zero", "function", req.Function)
		return false, fmt.Errorf("scale %s from zero: %w", req.Function, err)
	}
	if changed {
		s.obs.ScaledFromZero(req.Function, from)
		s.log.Info("Scaled function from zero", "function", req.Function, "from", from, "to", 1)
	}
	return true, nil
}
