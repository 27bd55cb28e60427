package compiled

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// Compiler compiles a source at a compiler's address; Client is one.
type Compiler interface {
	Compile(ctx context.Context, addr, source string) ([]byte, error)
}

// Addresses says where a compiler is ready now; Endpoints is one.
type Addresses interface {
	Addr() (string, bool)
}

// Timing bounds a Warmer's work.
type Timing struct {
	// Timeout bounds one compile; RetryInterval is the pause after a
	// compile that failed for a reason that may pass (no compiler ready,
	// the compiler unreachable, slow or failing).
	Timeout, RetryInterval time.Duration
}

// Warmer compiles wanted code one source at a time into its Cache.
type Warmer struct {
	cache    *Cache
	compiler Compiler
	at       Addresses
	timing   Timing
	log      logr.Logger
	outcome  func(result string)

	wake chan struct{}

	mu      sync.Mutex
	pending map[string]string // key -> source; guarded by mu
}

// NewWarmer makes a Warmer that fills cache; outcome, when not nil, is told
// each compile's result ("compiled", "uncompilable" or "failed").
func NewWarmer(cache *Cache, compiler Compiler, at Addresses, timing Timing, log logr.Logger, outcome func(string)) *Warmer {
	w := &Warmer{cache: cache, compiler: compiler, at: at, timing: timing, log: log, outcome: outcome,
		wake: make(chan struct{}, 1), pending: map[string]string{}}
	return w
}

// Want asks for source to be compiled under key (the SHA-256 of source, so
// that one key is one source), unless it is held already. It never blocks
// on a compile.
func (w *Warmer) Want(key, source string) {
	if key == "" || w.cache.Has(key) {
		return
	}
	w.mu.Lock()
	w.pending[key] = source
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run compiles what is wanted until ctx is done.
func (w *Warmer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		for w.drain(ctx) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(w.timing.RetryInterval):
			}
		}
	}
}

// drain compiles every pending source; it returns true when some are left
// to try again after a pause.
func (w *Warmer) drain(ctx context.Context) (retry bool) {
	for ctx.Err() == nil {
		key, source, ok := w.next()
		if !ok {
			return false
		}
		addr, ready := w.at.Addr()
		if !ready {
			return true
		}
		cctx, cancel := context.WithTimeout(ctx, w.timing.Timeout)
		start := time.Now()
		pyc, err := w.compiler.Compile(cctx, addr, source)
		cancel()
		switch {
		case err == nil:
			w.cache.Put(key, pyc)
			w.done(key)
			w.report("compiled")
			w.log.V(1).Info("Compiled function code", "key", key, "sourceBytes", len(source), "compiledBytes", len(pyc), "took", time.Since(start))
		case errors.Is(err, ErrUncompilable):
			w.done(key)
			w.report("uncompilable")
			w.log.V(1).Info("Function code does not compile; pods will compile it themselves", "key", key, "reason", err.Error())
		default:
			w.report("failed")
			w.log.Info("Compile failed; pods compile the code themselves until it succeeds", "key", key, "err", err.Error())
			return true
		}
	}
	return false
}

// next returns a pending source.
func (w *Warmer) next() (key, source string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, s := range w.pending {
		return k, s, true
	}
	return "", "", false
}

// done drops key from what is pending.
func (w *Warmer) done(key string) {
	w.mu.Lock()
	delete(w.pending, key)
	w.mu.Unlock()
}

func (w *Warmer) report(result string) {
	if w.outcome != nil {
		w.outcome(result)
	}
}
