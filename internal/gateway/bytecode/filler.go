package bytecode

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// ErrNoPod: no idle pool pod of the namespace and runtime could compile.
var ErrNoPod = errors.New("no idle pool pod to compile on")

// ErrUnsupported: the runtime's runner does not compile ahead of time.
var ErrUnsupported = errors.New("runtime does not compile ahead of time")

// Compiler compiles code on an idle pool pod of namespace and runtime, one
// that has run no function's code; fn is the function it is for.
type Compiler interface {
	Compile(ctx context.Context, namespace, runtime, fn, code string) (Entry, error)
}

// Job asks for the bytecode of one function's code.
type Job struct {
	Key Key
	// Function is "<namespace>/<name>", for picking a pod and for logs.
	Function string
	Code     string
}

// Limits bound a Filler.
type Limits struct {
	// Workers is how many compilations run at once; Queue how many wait
	// (more are dropped: the next change or cold start asks again).
	Workers, Queue int
	// Timeout bounds one compilation.
	Timeout time.Duration
	// Retry is how often jobs that found no idle pod are tried again, at
	// most Retries times (a pool may become ready after its functions).
	Retry   time.Duration
	Retries int
}

// Filler fills a Cache in the background, outside the call path.
type Filler struct {
	cache    *Cache
	compiler Compiler
	limits   Limits
	ctx      context.Context
	log      logr.Logger

	mu      sync.Mutex
	queue   []Job        // waiting, oldest first; guarded by mu
	pending map[Key]bool // waiting or compiling; guarded by mu
	retries map[Key]int  // tries left of pending jobs that find no pod; guarded by mu
	running int          // workers running; guarded by mu
	// parked found no idle pod, with the tries left; guarded by mu.
	parked map[Key]parkedJob
	// retrying: a retry of parked is scheduled; guarded by mu.
	retrying bool
}

type parkedJob struct {
	Job
	left int
}

// NewFiller makes a Filler whose work ends with ctx.
func NewFiller(ctx context.Context, cache *Cache, compiler Compiler, limits Limits, log logr.Logger) *Filler {
	return &Filler{cache: cache, compiler: compiler, limits: limits, ctx: ctx, log: log, pending: map[Key]bool{}, retries: map[Key]int{}, parked: map[Key]parkedJob{}}
}

// Cache is where the Filler puts what it compiled.
func (f *Filler) Cache() *Cache { return f.cache }

// Fill compiles j's code in the background unless it is cached or under
// way already. It never blocks.
func (f *Filler) Fill(j Job) {
	f.fill(j, f.limits.Retries)
}

func (f *Filler) fill(j Job, retries int) {
	if f.cache.budget <= 0 || f.ctx.Err() != nil || f.cache.Has(j.Key) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending[j.Key] || len(f.queue) >= f.limits.Queue {
		return
	}
	delete(f.parked, j.Key)
	f.retries[j.Key] = retries
	f.pending[j.Key] = true
	f.queue = append(f.queue, j)
	if f.running < f.limits.Workers {
		f.running++
		go f.work()
	}
}

// Lookup returns the cached bytecode of j, or asks for it in the background
// for the next time.
func (f *Filler) Lookup(j Job) (Entry, bool) {
	if e, ok := f.cache.Get(j.Key); ok {
		return e, true
	}
	f.Fill(j)
	return Entry{}, false
}

// work compiles queued jobs until none is left.
func (f *Filler) work() {
	for {
		f.mu.Lock()
		if f.ctx.Err() != nil {
			for _, q := range f.queue {
				delete(f.pending, q.Key)
				delete(f.retries, q.Key)
			}
			f.queue = nil
		}
		if len(f.queue) == 0 {
			f.running--
			f.mu.Unlock()
			return
		}
		j := f.queue[0]
		f.queue[0] = Job{}
		f.queue = f.queue[1:]
		f.mu.Unlock()

		noPod := f.compile(j)

		f.mu.Lock()
		delete(f.pending, j.Key)
		left := f.retries[j.Key]
		delete(f.retries, j.Key)
		if noPod && left > 0 && len(f.parked) < f.limits.Queue {
			f.parked[j.Key] = parkedJob{Job: j, left: left - 1}
			if !f.retrying {
				f.retrying = true
				time.AfterFunc(f.limits.Retry, f.retry)
			}
		}
		f.mu.Unlock()
	}
}

// retry queues the parked jobs again.
func (f *Filler) retry() {
	f.mu.Lock()
	parked := f.parked
	f.parked = map[Key]parkedJob{}
	f.retrying = false
	f.mu.Unlock()
	for _, p := range parked {
		f.fill(p.Job, p.left)
	}
}

// compile compiles j and caches the answer; it tells whether no idle pod
// was found.
func (f *Filler) compile(j Job) (noPod bool) {
	ctx, cancel := context.WithTimeout(f.ctx, f.limits.Timeout)
	defer cancel()
	start := time.Now()
	e, err := f.compiler.Compile(ctx, j.Key.Namespace, j.Key.Runtime, j.Function, j.Code)
	switch {
	case errors.Is(err, ErrNoPod):
		return true
	case errors.Is(err, ErrUnsupported):
		f.log.V(1).Info("Code not compiled ahead of time", "function", j.Function, "reason", err.Error())
	case err != nil:
		f.log.V(1).Info("Failed to compile code ahead of time", "function", j.Function, "error", err.Error())
	default:
		stored := f.cache.Put(j.Key, e)
		entries, bytes := f.cache.Size()
		f.log.Info("Compiled code ahead of time", "function", j.Function, "bytes", len(e.Base64),
			"stored", stored, "took", time.Since(start).String(), "cacheEntries", entries, "cacheBytes", bytes)
	}
	return false
}
