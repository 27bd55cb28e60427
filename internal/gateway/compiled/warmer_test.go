package compiled

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

type fakeCompiler struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]error // source -> error
}

func (f *fakeCompiler) Compile(_ context.Context, addr, source string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, addr+"|"+source)
	if err := f.fail[source]; err != nil {
		return nil, err
	}
	return []byte("pyc:" + source), nil
}

func (f *fakeCompiler) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

type fixedAddr struct {
	mu    sync.Mutex
	addr  string
	ready bool
}

func (a *fixedAddr) Addr() (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr, a.ready
}

func (a *fixedAddr) set(ready bool) {
	a.mu.Lock()
	a.ready = ready
	a.mu.Unlock()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func startWarmer(t *testing.T, c Compiler, at Addresses) (*Warmer, *Cache, *outcomes) {
	t.Helper()
	cache := NewCache(1 << 20)
	out := &outcomes{}
	w := NewWarmer(cache, c, at, Timing{Timeout: time.Second, RetryInterval: 10 * time.Millisecond, Attempts: 3}, logr.Discard(), out.add)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, cache, out
}

type outcomes struct {
	mu sync.Mutex
	m  map[string]int
}

func (o *outcomes) add(r string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]int{}
	}
	o.m[r]++
}

func (o *outcomes) get(r string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[r]
}

func TestWarmerCompilesWantedCodeOnce(t *testing.T) {
	fc := &fakeCompiler{}
	w, cache, _ := startWarmer(t, fc, &fixedAddr{addr: "10.0.0.9:8092", ready: true})
	w.Want("ns/a", "k1", "src1")
	waitFor(t, "k1 compiled", func() bool { return cache.Has("k1") })
	if got := string(cache.Compiled("k1")); got != "pyc:src1" {
		t.Errorf("cached %q", got)
	}
	w.Want("ns/a", "k1", "src1") // held: nothing to do
	w.Want("ns/b", "k1", "src1") // another function, the same source
	w.Want("ns/a", "k2", "src2")
	waitFor(t, "k2 compiled", func() bool { return cache.Has("k2") })
	if n := fc.count(); n != 2 {
		t.Errorf("%d compiles, want 2: %v", n, fc.calls)
	}
}

func TestWarmerWaitsForACompilerAndRetriesFailuresAFewTimes(t *testing.T) {
	fc := &fakeCompiler{fail: map[string]error{"flaky": fmt.Errorf("compiler answered 503")}}
	at := &fixedAddr{addr: "10.0.0.9:8092"}
	w, cache, out := startWarmer(t, fc, at)
	w.Want("ns/a", "k", "flaky")
	time.Sleep(30 * time.Millisecond)
	if fc.count() != 0 {
		t.Fatalf("compiled with no compiler ready")
	}
	at.set(true)
	waitFor(t, "a failed try", func() bool { return out.get("failed") >= 1 })
	fc.mu.Lock()
	delete(fc.fail, "flaky")
	fc.mu.Unlock()
	waitFor(t, "k compiled after the failure", func() bool { return cache.Has("k") })
}

func TestWarmerAbandonsASourceThatFailsEveryTime(t *testing.T) {
	// What a source the compiler runs out of time or memory on does: the
	// compiler is not kept busy with it for ever.
	fc := &fakeCompiler{fail: map[string]error{"slow": fmt.Errorf("compiler answered 503: the compile took longer than 5 s")}}
	w, cache, out := startWarmer(t, fc, &fixedAddr{addr: "a:1", ready: true})
	w.Want("ns/a", "slow", "slow")
	waitFor(t, "abandoned", func() bool { return out.get("abandoned") == 1 })
	time.Sleep(50 * time.Millisecond) // several retry intervals
	w.Want("ns/a", "slow", "slow")    // the function's next event: still final
	time.Sleep(30 * time.Millisecond)
	if n := fc.count(); n != 3 {
		t.Errorf("%d compiles, want 3 (Timing.Attempts) and none after: %v", n, fc.calls)
	}
	if out.get("failed") != 2 || w.Pending() != 0 {
		t.Errorf("failed %d, pending %d; want 2 failed then abandoned, nothing pending", out.get("failed"), w.Pending())
	}
	// New code of the same function is compiled.
	w.Want("ns/a", "good", "good")
	waitFor(t, "the new code compiled", func() bool { return cache.Has("good") })
}

func TestWarmerDropsUncompilableSource(t *testing.T) {
	fc := &fakeCompiler{fail: map[string]error{"bad": fmt.Errorf("%w: SyntaxError", ErrUncompilable)}}
	w, cache, out := startWarmer(t, fc, &fixedAddr{addr: "a:1", ready: true})
	w.Want("ns/a", "bad", "bad")
	w.Want("ns/b", "good", "good")
	waitFor(t, "good compiled", func() bool { return cache.Has("good") && out.get("uncompilable") == 1 })
	w.Want("ns/a", "bad", "bad") // asked again at a cold start
	time.Sleep(50 * time.Millisecond)
	if n := fc.count(); n != 2 {
		t.Errorf("%d compiles, want 2 (the uncompilable source is not tried again): %v", n, fc.calls)
	}
	if cache.Has("bad") {
		t.Errorf("uncompilable source cached")
	}
}

func TestWarmerHoldsOneSourcePerFunction(t *testing.T) {
	// No compiler ever ready: what waits is bounded by the functions, not
	// by how many versions they had, and a deleted one's goes.
	w := NewWarmer(NewCache(1<<20), &fakeCompiler{}, &fixedAddr{}, Timing{Timeout: time.Second, RetryInterval: time.Hour, Attempts: 3}, logr.Discard(), nil)
	for i := range 1000 {
		w.Want("ns/a", fmt.Sprint("k", i), fmt.Sprint("src", i))
	}
	w.Want("ns/b", "kb", "srcb")
	if n := w.Pending(); n != 2 {
		t.Fatalf("pending %d, want 2", n)
	}
	w.Forget("ns/a")
	if n := w.Pending(); n != 1 {
		t.Fatalf("pending %d after a function went, want 1", n)
	}
}

func TestWarmerCompilesAgainCodeTheCacheLetGo(t *testing.T) {
	fc := &fakeCompiler{}
	cache := NewCache(len("pyc:src1"))
	w := NewWarmer(cache, fc, &fixedAddr{addr: "a:1", ready: true}, Timing{Timeout: time.Second, RetryInterval: time.Millisecond, Attempts: 3}, logr.Discard(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	w.Want("ns/a", "k1", "src1")
	waitFor(t, "k1", func() bool { return cache.Has("k1") })
	w.Want("ns/b", "k2", "src2") // room for one: k1 goes
	waitFor(t, "k2", func() bool { return cache.Has("k2") && !cache.Has("k1") })
	w.Want("ns/a", "k1", "src1") // ns/a's next cold start
	waitFor(t, "k1 again", func() bool { return cache.Has("k1") })
	if n := fc.count(); n != 3 {
		t.Errorf("%d compiles, want 3", n)
	}
}

func TestWarmerStopsWithItsContext(t *testing.T) {
	w := NewWarmer(NewCache(10), &fakeCompiler{}, &fixedAddr{}, Timing{Timeout: time.Second, RetryInterval: time.Hour, Attempts: 3}, logr.Discard(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	w.Want("ns/a", "k", "s") // no compiler: waits a retry interval of an hour
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

func TestWarmerCountsAttemptsPerOwnerStillWaiting(t *testing.T) {
	// Another function wanting a source already abandoned for one gets its
	// own attempts, each after a pause.
	fc := &fakeCompiler{fail: map[string]error{"slow": fmt.Errorf("compiler answered 503")}}
	w, _, out := startWarmer(t, fc, &fixedAddr{addr: "a:1", ready: true})
	w.Want("ns/a", "slow", "slow")
	waitFor(t, "a abandoned", func() bool { return out.get("abandoned") == 1 })
	w.Want("ns/b", "slow", "slow")
	waitFor(t, "b abandoned", func() bool { return out.get("abandoned") == 2 })
	if n, f := fc.count(), out.get("failed"); n != 6 || f != 4 {
		t.Errorf("%d compiles, %d failed; want 6 and 4 (3 attempts each)", n, f)
	}
}

func TestWarmerCountsNoAttemptWhenTheCompilerDidNotAnswer(t *testing.T) {
	fc := &fakeCompiler{fail: map[string]error{"src": fmt.Errorf("%w: connection refused", ErrNoAnswer)}}
	w, cache, out := startWarmer(t, fc, &fixedAddr{addr: "a:1", ready: true})
	w.Want("ns/a", "k", "src")
	waitFor(t, "five unanswered tries", func() bool { return out.get("failed") >= 5 })
	fc.mu.Lock()
	delete(fc.fail, "src")
	fc.mu.Unlock()
	waitFor(t, "compiled once the compiler answers", func() bool { return cache.Has("k") })
	if out.get("abandoned") != 0 {
		t.Errorf("abandoned a source for the compiler's outage")
	}
}

func TestWarmerDoesNotCompileAgainCodeTooLargeToKeep(t *testing.T) {
	fc := &fakeCompiler{}
	cache := NewCache(4) // "pyc:src" does not fit
	w := NewWarmer(cache, fc, &fixedAddr{addr: "a:1", ready: true}, Timing{Timeout: time.Second, RetryInterval: time.Millisecond, Attempts: 3}, logr.Discard(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	w.Want("ns/a", "k", "src")
	waitFor(t, "one compile", func() bool { return fc.count() == 1 })
	for range 5 {
		w.Want("ns/a", "k", "src") // cold starts
	}
	time.Sleep(30 * time.Millisecond)
	if n := fc.count(); n != 1 {
		t.Errorf("%d compiles, want 1", n)
	}
}
