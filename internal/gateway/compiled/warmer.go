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
	// Attempts bounds the compiles of one source that fail so (a source
	// the compiler runs out of time or memory on fails every time); the
	// pods compile it themselves after. Waiting for a compiler to be
	// ready is no attempt.
	Attempts int
}

// Warmer compiles the code its owners want, one source at a time, into its
// Cache. What it holds is bounded by its owners (functions): each wants one
// source at a time, the latest.
type Warmer struct {
	cache    *Cache
	compiler Compiler
	at       Addresses
	timing   Timing
	log      logr.Logger
	outcome  func(result string)

	wake chan struct{}

	mu    sync.Mutex
	wants map[string]*want // by owner; guarded by mu
}

// want is an owner's source and how its compiles went.
type want struct {
	key, source string
	attempts    int
	// final: the source does not compile, or failed Attempts times; its
	// source is dropped and it is not asked for again.
	final bool
}

// NewWarmer makes a Warmer that fills cache; outcome, when not nil, is told
// each compile's result ("compiled", "uncompilable", "uncacheable",
// "failed" or "abandoned").
func NewWarmer(cache *Cache, compiler Compiler, at Addresses, timing Timing, log logr.Logger, outcome func(string)) *Warmer {
	if timing.Attempts <= 0 {
		timing.Attempts = 1
	}
	return &Warmer{cache: cache, compiler: compiler, at: at, timing: timing, log: log, outcome: outcome,
		wake: make(chan struct{}, 1), wants: map[string]*want{}}
}

// Want asks for owner's source to be compiled under key (the SHA-256 of
// source, so that one key is one source), unless it is held, or was found
// final for owner already. It replaces what owner wanted before, and asks
// again for code the cache let go. It never blocks on a compile.
func (w *Warmer) Want(owner, key, source string) {
	if key == "" {
		return
	}
	if w.cache.Has(key) {
		w.mu.Lock()
		if old := w.wants[owner]; old != nil && old.key != key {
			delete(w.wants, owner) // its older code is no longer wanted
		}
		w.mu.Unlock()
		return
	}
	w.mu.Lock()
	if old := w.wants[owner]; old != nil && old.key == key {
		w.mu.Unlock()
		return // under way, or final
	}
	w.wants[owner] = &want{key: key, source: source}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Forget drops what owner wanted (a deleted function).
func (w *Warmer) Forget(owner string) {
	w.mu.Lock()
	delete(w.wants, owner)
	w.mu.Unlock()
}

// Pending returns how many owners wait for a compile.
func (w *Warmer) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, wt := range w.wants {
		if !wt.final {
			n++
		}
	}
	return n
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
		if w.cache.Has(key) {
			// Another owner's same source was compiled meanwhile.
			w.settle(key, false)
			continue
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
			if !w.cache.Has(key) {
				// Larger than the whole cache: compiling it again would
				// not keep it either.
				w.settle(key, true)
				w.report("uncacheable")
				continue
			}
			w.settle(key, false)
			w.report("compiled")
			w.log.V(1).Info("Compiled function code", "key", key, "sourceBytes", len(source), "compiledBytes", len(pyc), "took", time.Since(start))
		case errors.Is(err, ErrUncompilable):
			w.settle(key, true)
			w.report("uncompilable")
			w.log.V(1).Info("Function code does not compile; pods will compile it themselves", "key", key, "reason", err.Error())
		case ctx.Err() != nil:
			return false
		case errors.Is(err, ErrNoAnswer):
			// The compiler unreachable, or busy past Timeout (another
			// replica's compile ahead of this one): its fault, not the
			// source's; no attempt is counted.
			w.report("failed")
			w.log.Info("Compiler did not answer; retrying", "key", key, "err", err.Error())
			return true
		default:
			if w.failed(key) {
				w.report("abandoned")
				w.log.Info("Compile failed; pods compile this code themselves", "key", key, "attempts", w.timing.Attempts, "err", err.Error())
				continue
			}
			w.report("failed")
			w.log.Info("Compile failed; pods compile the code themselves until it succeeds", "key", key, "err", err.Error())
			return true
		}
	}
	return false
}

// next returns a source some owner waits for.
func (w *Warmer) next() (key, source string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wt := range w.wants {
		if !wt.final {
			return wt.key, wt.source, true
		}
	}
	return "", "", false
}

// settle ends every owner's want of key: done (compiled, or held), or
// final (never asked for again while the owner wants it).
func (w *Warmer) settle(key string, final bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for owner, wt := range w.wants {
		if wt.key != key {
			continue
		}
		if final {
			wt.final, wt.source = true, ""
		} else {
			delete(w.wants, owner)
		}
	}
}

// failed counts a failed compile of key for every owner still waiting for
// it; it returns true when that made some owner's want final.
func (w *Warmer) failed(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	final := false
	for _, wt := range w.wants {
		if wt.key != key || wt.final {
			continue
		}
		wt.attempts++
		if wt.attempts >= w.timing.Attempts {
			wt.final, wt.source, final = true, "", true
		}
	}
	return final
}

func (w *Warmer) report(result string) {
	if w.outcome != nil {
		w.outcome(result)
	}
}
