package bytecode

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-logr/logr"
)

// fakeCompiler blocks each compilation until release is closed, and counts
// how many run at once.
type fakeCompiler struct {
	release         chan struct{}
	running, most   atomic.Int32
	calls           atomic.Int32
	noPod           atomic.Bool
	mu              sync.Mutex
	namespacesAsked []string
}

func (c *fakeCompiler) Compile(ctx context.Context, namespace, _, _, code string) (Entry, error) {
	c.calls.Add(1)
	c.mu.Lock()
	c.namespacesAsked = append(c.namespacesAsked, namespace)
	c.mu.Unlock()
	if c.noPod.Load() {
		return Entry{}, ErrNoPod
	}
	n := c.running.Add(1)
	defer c.running.Add(-1)
	for {
		if m := c.most.Load(); n <= m || c.most.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-c.release:
	case <-ctx.Done():
		return Entry{}, ctx.Err()
	}
	return Entry{Tag: "t", Base64: []byte("QQ==" + code)}, nil
}

func job(ns, code string) Job { return Job{Key: key(ns, code), Function: ns + "/f", Code: code} }

func TestFillerCompilesInTheBackgroundAtMostWorkersAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &fakeCompiler{release: make(chan struct{})}
		f := NewFiller(t.Context(), NewCache(1<<20), c, Limits{Workers: 2, Queue: 3, Timeout: time.Minute, Retry: time.Second}, logr.Discard())
		f.Fill(job("ns", "a"))
		f.Fill(job("ns", "b"))
		synctest.Wait()
		for _, code := range []string{"c", "d", "a", "e", "f"} {
			f.Fill(job("ns", code)) // never blocks
		}
		synctest.Wait()
		if n := c.running.Load(); n != 2 {
			t.Errorf("%d compilations running, want 2", n)
		}
		close(c.release)
		synctest.Wait()
		if m := c.most.Load(); m != 2 {
			t.Errorf("at most %d at once, want 2", m)
		}
		// a and b were taken at once, c and d waited (the queue holds 3,
		// a's duplicate was dropped as under way), e fit, f did not.
		if n := c.calls.Load(); n != 5 {
			t.Errorf("%d compilations, want 5", n)
		}
		if _, ok := f.Lookup(job("ns", "a")); !ok {
			t.Error("a not cached")
		}
		if _, ok := f.Cache().Get(key("ns", "f")); ok {
			t.Error("f was compiled beyond the queue")
		}
		// A lookup that misses asks for it.
		if _, ok := f.Lookup(job("ns", "f")); ok {
			t.Error("f found")
		}
		synctest.Wait()
		if e, ok := f.Lookup(job("ns", "f")); !ok || string(e.Base64) != "QQ==f" {
			t.Errorf("f after a miss: %v %q", ok, e.Base64)
		}
		// Cached code is not compiled again.
		before := c.calls.Load()
		f.Fill(job("ns", "a"))
		synctest.Wait()
		if c.calls.Load() != before {
			t.Error("cached code compiled again")
		}
	})
}

func TestFillerTriesAgainWhenNoPodWasIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &fakeCompiler{release: make(chan struct{})}
		close(c.release)
		c.noPod.Store(true)
		f := NewFiller(t.Context(), NewCache(1<<20), c, Limits{Workers: 1, Queue: 8, Timeout: time.Minute, Retry: time.Second, Retries: 3}, logr.Discard())
		f.Fill(job("ns", "a"))
		synctest.Wait()
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if n := c.calls.Load(); n != 2 {
			t.Errorf("%d tries after one retry interval, want 2", n)
		}
		c.noPod.Store(false)
		time.Sleep(time.Second)
		synctest.Wait()
		if _, ok := f.Cache().Get(key("ns", "a")); !ok {
			t.Error("not compiled once a pod was idle")
		}
		// With no pod ever, it gives up after Retries.
		c.noPod.Store(true)
		f.Fill(job("ns", "b"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := c.calls.Load(); n != 3+1+3 {
			t.Errorf("%d tries in all, want 7", n)
		}
	})
}
