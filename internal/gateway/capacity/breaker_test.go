package capacity

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sync/errgroup"
)

// got is what one Acquire answered.
type got struct {
	slot Slot
	cold bool
	err  error
}

// pods makes pods named by their IPs; each Addr is IP:8080.
func pods(ips ...string) []Pod {
	out := make([]Pod, 0, len(ips))
	for _, ip := range ips {
		out = append(out, Pod{IP: ip, Addr: ip + ":8080"})
	}
	return out
}

// acquireAsync starts an Acquire and, inside a synctest bubble, waits until
// it either returned or is waiting, so calls queue in the order they are
// started.
func acquireAsync(b *Breaker, ctx context.Context) <-chan got {
	ch := make(chan got, 1)
	go func() {
		s, cold, err := b.Acquire(ctx)
		ch <- got{s, cold, err}
	}()
	synctest.Wait()
	return ch
}

// mustAcquire takes a slot that must be free now.
func mustAcquire(t *testing.T, b *Breaker) Slot {
	t.Helper()
	s, cold, err := b.Acquire(context.Background())
	if err != nil || cold {
		t.Fatalf("Acquire = cold %v, err %v; want a free slot", cold, err)
	}
	return s
}

// done returns the answer of ch if it came; call after synctest.Wait.
func done(ch <-chan got) (got, bool) {
	select {
	case g := <-ch:
		return g, true
	default:
		return got{}, false
	}
}

func mustGet(t *testing.T, ch <-chan got) got {
	t.Helper()
	synctest.Wait()
	g, ok := done(ch)
	if !ok {
		t.Fatal("the call is still waiting, want an answer")
	}
	return g
}

func mustWait(t *testing.T, ch <-chan got, what string) {
	t.Helper()
	synctest.Wait()
	if g, ok := done(ch); ok {
		t.Fatalf("%s: answered %+v, want it still waiting", what, g)
	}
}

// inFlightOf reads a pod's calls in flight, current or departed.
func inFlightOf(b *Breaker, ip string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ps := b.byIP[ip]; ps != nil {
		return ps.inFlight
	}
	return 0
}

func TestWaitersAreServedInArrivalOrderOnePerFreedSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(1, 100, time.Now, Hooks{})
		b.SetPods(pods("10.0.0.1"))
		held := mustAcquire(t, b)

		const n = 8
		var waiters []<-chan got
		for range n {
			waiters = append(waiters, acquireAsync(b, context.Background()))
		}
		if st := b.Stats(); st.Waiting != n || st.InFlight != 1 {
			t.Fatalf("Stats = %+v, want %d waiting and 1 in flight", st, n)
		}
		for i := range n {
			b.Release(held)
			synctest.Wait()
			// Exactly waiter i got the freed slot; every later one still waits.
			g, ok := done(waiters[i])
			if !ok || g.err != nil || g.cold || g.slot.Pod.IP != "10.0.0.1" {
				t.Fatalf("after release %d waiter %d: answered %v %+v, want the slot", i, i, ok, g)
			}
			for j := i + 1; j < n; j++ {
				if g, ok := done(waiters[j]); ok {
					t.Fatalf("after release %d waiter %d answered %+v too: one slot woke two waiters", i, j, g)
				}
			}
			if st := b.Stats(); st.Waiting != n-1-i || st.InFlight != 1 {
				t.Fatalf("after release %d Stats = %+v, want %d waiting and 1 in flight", i, st, n-1-i)
			}
			held = g.slot
		}
		b.Release(held)
		if st := b.Stats(); st.InFlight != 0 || st.Waiting != 0 {
			t.Fatalf("Stats = %+v, want nothing left", st)
		}
	})
}

func TestNewcomerQueuesBehindWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(1, 100, time.Now, Hooks{})
		b.SetPods(pods("10.0.0.1"))
		held := mustAcquire(t, b)
		w1 := acquireAsync(b, context.Background())
		w2 := acquireAsync(b, context.Background())

		b.Release(held)
		g1 := mustGet(t, w1)
		// The slot went to w1: a newcomer must wait behind w2.
		newcomer := acquireAsync(b, context.Background())
		mustWait(t, newcomer, "newcomer while w2 waits")

		b.Release(g1.slot)
		g2 := mustGet(t, w2)
		mustWait(t, newcomer, "newcomer after w2 was served")
		b.Release(g2.slot)
		g3 := mustGet(t, newcomer)
		b.Release(g3.slot)
	})
}

func TestColdWaitersAreServedInOrderWhenPodsArrive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var queued []bool
		var mu sync.Mutex
		b := New(1, 100, time.Now, Hooks{Queued: func(noPods bool) {
			mu.Lock()
			queued = append(queued, noPods)
			mu.Unlock()
		}})
		var ws []<-chan got
		for range 3 {
			ws = append(ws, acquireAsync(b, context.Background()))
		}
		// One pod of concurrency 1 serves the first waiter only.
		b.SetPods(pods("10.0.0.1"))
		g := mustGet(t, ws[0])
		if !g.cold || g.err != nil {
			t.Fatalf("first waiter: %+v, want a cold slot", g)
		}
		mustWait(t, ws[1], "second waiter")
		// A second pod serves the second waiter, not the third.
		b.SetPods(pods("10.0.0.1", "10.0.0.2"))
		g2 := mustGet(t, ws[1])
		if g2.slot.Pod.IP != "10.0.0.2" || !g2.cold {
			t.Fatalf("second waiter: %+v, want a cold slot on the new pod", g2)
		}
		mustWait(t, ws[2], "third waiter")
		b.Release(g.slot)
		g3 := mustGet(t, ws[2])
		if !g3.cold {
			t.Errorf("third waiter queued with no pods: cold = false, want true")
		}
		b.Release(g2.slot)
		b.Release(g3.slot)
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(queued) != "[true true true]" {
			t.Errorf("Queued(noPods) calls = %v, want [true true true]", queued)
		}
	})
}

func TestLeastBusyPodIsPicked(t *testing.T) {
	b := New(3, 0, time.Now, Hooks{})
	ips := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}
	b.SetPods(pods(ips...))
	// A random walk of acquires and releases: every acquire must land on a
	// pod with the fewest calls in flight.
	rng := rand.New(rand.NewPCG(1, 2))
	count := map[string]int{}
	var held []Slot
	for step := range 2000 {
		if len(held) > 0 && (len(held) == 9 || rng.IntN(2) == 0) {
			i := rng.IntN(len(held))
			count[held[i].Pod.IP]--
			b.Release(held[i])
			held = append(held[:i], held[i+1:]...)
			continue
		}
		least := 1 << 30
		for _, ip := range ips {
			least = min(least, count[ip])
		}
		s := mustAcquire(t, b)
		if count[s.Pod.IP] != least {
			t.Fatalf("step %d: picked %s with %d in flight, the least busy has %d (counts %v)", step, s.Pod.IP, count[s.Pod.IP], least, count)
		}
		count[s.Pod.IP]++
		held = append(held, s)
	}
}

func TestEquallyBusyPodsShareTheWork(t *testing.T) {
	b := New(10, 0, time.Now, Hooks{})
	b.SetPods(pods("10.0.0.1", "10.0.0.2", "10.0.0.3"))
	per := map[string]int{}
	for range 30 {
		s := mustAcquire(t, b)
		per[s.Pod.IP]++
	}
	for ip, n := range per {
		if n != 10 {
			t.Errorf("pod %s got %d calls, want 10 each (%v)", ip, n, per)
		}
	}
	if st := b.Stats(); st.InFlight != 30 || st.Pods != 3 {
		t.Errorf("Stats = %+v, want 30 in flight on 3 pods", st)
	}
}

func TestConcurrencyLimitPerPod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(2, 100, time.Now, Hooks{})
		b.SetPods(pods("10.0.0.1", "10.0.0.2"))
		var held []Slot
		for range 4 {
			held = append(held, mustAcquire(t, b))
		}
		for _, ip := range []string{"10.0.0.1", "10.0.0.2"} {
			if n := inFlightOf(b, ip); n != 2 {
				t.Fatalf("pod %s has %d in flight, want 2", ip, n)
			}
		}
		w := []<-chan got{acquireAsync(b, context.Background()), acquireAsync(b, context.Background()), acquireAsync(b, context.Background())}
		mustWait(t, w[0], "a call beyond 2 per pod")

		// Up: two more slots, handed to the first two waiters only.
		b.SetConcurrency(3)
		held = append(held, mustGet(t, w[0]).slot, mustGet(t, w[1]).slot)
		mustWait(t, w[2], "third waiter after concurrency 3")
		if n0, n1 := inFlightOf(b, "10.0.0.1"), inFlightOf(b, "10.0.0.2"); n0 != 3 || n1 != 3 {
			t.Fatalf("in flight = %d and %d, want 3 and 3", n0, n1)
		}

		// Down: nothing new until a pod is below the new limit.
		b.SetConcurrency(1)
		var onFirst []Slot
		for _, s := range held {
			if s.Pod.IP == "10.0.0.1" {
				onFirst = append(onFirst, s)
			}
		}
		b.Release(onFirst[0])
		mustWait(t, w[2], "waiter with pod 1 at 2 of limit 1")
		b.Release(onFirst[1])
		mustWait(t, w[2], "waiter with pod 1 at 1 of limit 1")
		b.Release(onFirst[2])
		g := mustGet(t, w[2])
		if g.slot.Pod.IP != "10.0.0.1" {
			t.Fatalf("waiter went to %s, want the pod that fell below the limit", g.slot.Pod.IP)
		}
		if _, _, err := b.Acquire(canceled()); !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire with both pods at limit 1 = %v, want to wait (and end with ctx)", err)
		}
	})
}

func TestSetConcurrencyBelowOneMeansOne(t *testing.T) {
	b := New(0, 10, time.Now, Hooks{})
	b.SetPods(pods("10.0.0.1"))
	mustAcquire(t, b)
	if _, _, err := b.Acquire(canceled()); !errors.Is(err, context.Canceled) {
		t.Fatalf("second Acquire with concurrency 0 = %v, want it to wait", err)
	}
	b.SetConcurrency(-3)
	if _, _, err := b.Acquire(canceled()); !errors.Is(err, context.Canceled) {
		t.Fatalf("second Acquire with concurrency -3 = %v, want it to wait", err)
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestSetPodsKeepsCallsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(1, 100, time.Now, Hooks{})
		b.SetPods(pods("10.0.0.1", "10.0.0.2"))
		s1, s2 := mustAcquire(t, b), mustAcquire(t, b)
		if s1.Pod.IP == s2.Pod.IP {
			t.Fatalf("both calls on %s", s1.Pod.IP)
		}

		// A pod joins; the two that stay are still full.
		b.SetPods(pods("10.0.0.1", "10.0.0.2", "10.0.0.3"))
		s3 := mustAcquire(t, b)
		if s3.Pod.IP != "10.0.0.3" {
			t.Fatalf("third call on %s, want the new pod", s3.Pod.IP)
		}
		w := acquireAsync(b, context.Background())
		mustWait(t, w, "a fourth call on three full pods")

		// 10.0.0.1 leaves with its call in flight, then comes back: still full.
		b.SetPods(pods("10.0.0.2", "10.0.0.3"))
		if st := b.Stats(); st.Pods != 2 || st.InFlight != 3 {
			t.Fatalf("Stats = %+v, want 2 pods and 3 in flight", st)
		}
		b.SetPods(pods("10.0.0.1", "10.0.0.2", "10.0.0.3"))
		mustWait(t, w, "a call after a full pod came back")
		if n := inFlightOf(b, "10.0.0.1"); n != 1 {
			t.Fatalf("returning pod has %d in flight, want its 1 call kept", n)
		}

		// Releasing on it frees its slot for the waiter.
		b.Release(s1)
		g := mustGet(t, w)
		if g.slot.Pod.IP != "10.0.0.1" {
			t.Fatalf("waiter on %s, want 10.0.0.1", g.slot.Pod.IP)
		}
		for _, s := range []Slot{s2, s3, g.slot} {
			b.Release(s)
		}
		if st := b.Stats(); st.InFlight != 0 || st.Waiting != 0 || st.Pods != 3 {
			t.Fatalf("Stats = %+v, want 3 idle pods", st)
		}
	})
}

func TestReleaseOnDepartedPod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(1, 100, time.Now, Hooks{})
		b.SetPods(pods("10.0.0.1", "10.0.0.2"))
		s1, s2 := mustAcquire(t, b), mustAcquire(t, b)
		w := acquireAsync(b, context.Background())

		gone := s1
		if gone.Pod.IP != "10.0.0.1" {
			gone, s2 = s2, s1
		}
		b.SetPods(pods("10.0.0.2"))
		// The departed pod's slot is not handed out again.
		b.Release(gone)
		mustWait(t, w, "waiter after a departed pod's call ended")
		if st := b.Stats(); st.InFlight != 1 || st.Pods != 1 {
			t.Fatalf("Stats = %+v, want 1 in flight on 1 pod", st)
		}
		b.mu.Lock()
		_, kept := b.byIP["10.0.0.1"]
		b.mu.Unlock()
		if kept {
			t.Error("a departed pod with no call left is still tracked")
		}
		// When it comes back it starts empty.
		b.SetPods(pods("10.0.0.1", "10.0.0.2"))
		if g := mustGet(t, w); g.slot.Pod.IP != "10.0.0.1" {
			t.Fatalf("waiter on %s, want the returned pod", g.slot.Pod.IP)
		} else {
			b.Release(g.slot)
		}
		b.Release(s2)
	})
}

func TestSetPodsUpdatesAddrOfAStayingPod(t *testing.T) {
	b := New(2, 10, time.Now, Hooks{})
	b.SetPods([]Pod{{IP: "10.0.0.1", Addr: "10.0.0.1:8080", FromPool: true}})
	s := mustAcquire(t, b)
	b.SetPods([]Pod{{IP: "10.0.0.1", Addr: "10.0.0.1:9090"}})
	s2 := mustAcquire(t, b)
	if s2.Pod.Addr != "10.0.0.1:9090" || s2.Pod.FromPool {
		t.Errorf("slot pod = %+v, want the new address, not from the pool", s2.Pod)
	}
	if s.Pod.Addr != "10.0.0.1:8080" || !s.Pod.FromPool {
		t.Errorf("earlier slot changed: %+v", s.Pod)
	}
	if n := inFlightOf(b, "10.0.0.1"); n != 2 {
		t.Errorf("in flight = %d, want 2", n)
	}
}

func TestQueueFull(t *testing.T) {
	cases := []struct {
		name       string
		maxWaiting int
	}{
		{"no waiting allowed", 0},
		{"one", 1},
		{"three", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var queued atomic.Int32
				b := New(1, tc.maxWaiting, time.Now, Hooks{Queued: func(bool) { queued.Add(1) }})
				b.SetPods(pods("10.0.0.1"))
				held := mustAcquire(t, b)
				var ws []<-chan got
				for range tc.maxWaiting {
					ws = append(ws, acquireAsync(b, context.Background()))
				}
				for i, w := range ws {
					mustWait(t, w, fmt.Sprintf("waiter %d", i))
				}
				_, _, err := b.Acquire(context.Background())
				if !errors.Is(err, ErrQueueFull) {
					t.Fatalf("Acquire with %d waiting = %v, want ErrQueueFull", tc.maxWaiting, err)
				}
				if n := queued.Load(); int(n) != tc.maxWaiting {
					t.Errorf("Queued called %d times, want %d: a rejected call is not queued", n, tc.maxWaiting)
				}
				if st := b.Stats(); st.Waiting != tc.maxWaiting {
					t.Errorf("Stats.Waiting = %d, want %d", st.Waiting, tc.maxWaiting)
				}
				// Serve everyone; the breaker ends empty.
				for _, w := range ws {
					b.Release(held)
					held = mustGet(t, w).slot
				}
				b.Release(held)
				if st := b.Stats(); st.InFlight != 0 || st.Waiting != 0 {
					t.Errorf("Stats = %+v, want empty", st)
				}
			})
		})
	}
}

func TestCanceledWaiterLeavesTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(1, 100, time.Now, Hooks{})
		b.SetPods(pods("10.0.0.1"))
		held := mustAcquire(t, b)
		ctx1, cancel1 := context.WithCancel(context.Background())
		w1 := acquireAsync(b, ctx1)
		w2 := acquireAsync(b, context.Background())

		cancel1()
		if g := mustGet(t, w1); !errors.Is(g.err, context.Canceled) {
			t.Fatalf("canceled waiter: %+v, want context.Canceled", g)
		}
		if st := b.Stats(); st.Waiting != 1 {
			t.Fatalf("Stats.Waiting = %d, want 1 after a cancel", st.Waiting)
		}
		b.Release(held)
		g := mustGet(t, w2)
		if g.err != nil {
			t.Fatalf("second waiter: %v", g.err)
		}
		b.Release(g.slot)
		if st := b.Stats(); st.InFlight != 0 || st.Waiting != 0 {
			t.Fatalf("Stats = %+v, want empty", st)
		}
	})
}

func TestWaitEndsAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(1, 100, time.Now, Hooks{})
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, cold, err := b.Acquire(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !cold {
			t.Fatalf("Acquire = cold %v, %v; want a cold call ending with DeadlineExceeded", cold, err)
		}
		if d := time.Since(start); d != 30*time.Second {
			t.Errorf("waited %v, want exactly the 30s deadline", d)
		}
		if st := b.Stats(); st.Waiting != 0 {
			t.Errorf("Stats.Waiting = %d after the deadline", st.Waiting)
		}
	})
}

// TestSlotHandedAsContextEndsIsPassedOn forces the race: the Queued hook
// hands the waiter a slot before it selects, and its context is already
// done, so both cases are ready. Whichever the select takes, the slot must
// not leak: either the caller gets it, or the next waiter does.
func TestSlotHandedAsContextEndsIsPassedOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		passedOn := 0
		for i := range 64 {
			var b *Breaker
			var held Slot
			armed := false
			b = New(1, 100, time.Now, Hooks{Queued: func(bool) {
				if armed {
					armed = false
					b.Release(held) // hands the slot to the waiter queued just now
				}
			}})
			b.SetPods(pods("10.0.0.1"))
			held = mustAcquire(t, b)
			armed = true
			s, _, err := b.Acquire(canceled())
			if err == nil {
				// The select took the slot: the caller owns it.
				b.Release(s)
			} else {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("iteration %d: err = %v", i, err)
				}
				passedOn++
			}
			if st := b.Stats(); st.InFlight != 0 || st.Waiting != 0 {
				t.Fatalf("iteration %d: Stats = %+v, want the slot free", i, st)
			}
			mustAcquire(t, b) // the only slot is free again
		}
		if passedOn == 0 {
			t.Fatal("the context path never ran in 64 tries")
		}

		// With a second waiter, a slot passed on goes to it.
		for i := range 32 {
			b := New(1, 100, time.Now, Hooks{})
			b.SetPods(pods("10.0.0.1"))
			held := mustAcquire(t, b)
			ctx, cancel := context.WithCancel(context.Background())
			w1 := acquireAsync(b, ctx)
			w2 := acquireAsync(b, context.Background())
			// Both happen before w1 runs again.
			b.Release(held)
			cancel()
			g1 := mustGet(t, w1)
			var owner Slot
			if g1.err == nil {
				owner = g1.slot
				mustWait(t, w2, "second waiter while the first holds the slot")
				b.Release(owner)
			}
			g2 := mustGet(t, w2)
			if g2.err != nil {
				t.Fatalf("iteration %d: second waiter: %v", i, g2.err)
			}
			b.Release(g2.slot)
			if st := b.Stats(); st.InFlight != 0 || st.Waiting != 0 {
				t.Fatalf("iteration %d: Stats = %+v, want empty", i, st)
			}
		}
	})
}

func TestCloseFailsWaitersAndLaterCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errGone := errors.New("function deleted")
		b := New(1, 100, time.Now, Hooks{})
		b.SetPods(pods("10.0.0.1", "10.0.0.2"))
		s1, s2 := mustAcquire(t, b), mustAcquire(t, b)
		w1 := acquireAsync(b, context.Background())
		w2 := acquireAsync(b, context.Background())

		b.Close(errGone)
		for i, w := range []<-chan got{w1, w2} {
			if g := mustGet(t, w); !errors.Is(g.err, errGone) {
				t.Errorf("waiter %d: %+v, want the Close error", i, g)
			}
		}
		// Calls in flight finish and release as usual.
		b.Release(s1)
		if st := b.Stats(); st.InFlight != 1 || st.Waiting != 0 {
			t.Errorf("Stats = %+v, want 1 in flight, none waiting", st)
		}
		// Later calls fail at once, even with a free slot.
		if _, _, err := b.Acquire(context.Background()); !errors.Is(err, errGone) {
			t.Errorf("Acquire after Close = %v, want the Close error", err)
		}
		b.SetPods(pods("10.0.0.3"))
		if _, _, err := b.Acquire(context.Background()); !errors.Is(err, errGone) {
			t.Errorf("Acquire after Close and SetPods = %v, want the Close error", err)
		}
		b.Release(s2)
		if st := b.Stats(); st.InFlight != 0 {
			t.Errorf("Stats.InFlight = %d, want 0", st.InFlight)
		}
	})
}

func TestFailWaitingFailsOnlyWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errLoad := errors.New("code cannot load")
		b := New(1, 100, time.Now, Hooks{})
		b.SetPods(pods("10.0.0.1"))
		held := mustAcquire(t, b)
		w1 := acquireAsync(b, context.Background())
		w2 := acquireAsync(b, context.Background())

		b.FailWaiting(errLoad)
		for i, w := range []<-chan got{w1, w2} {
			if g := mustGet(t, w); !errors.Is(g.err, errLoad) {
				t.Errorf("waiter %d: %+v, want the FailWaiting error", i, g)
			}
		}
		if st := b.Stats(); st.InFlight != 1 || st.Waiting != 0 {
			t.Fatalf("Stats = %+v, want the call in flight kept", st)
		}
		// Later calls wait and are served as usual.
		w3 := acquireAsync(b, context.Background())
		mustWait(t, w3, "a call after FailWaiting")
		b.Release(held)
		g := mustGet(t, w3)
		if g.err != nil {
			t.Fatalf("call after FailWaiting: %v", g.err)
		}
		b.Release(g.slot)
		if s := mustAcquire(t, b); s.Pod.IP != "10.0.0.1" {
			t.Fatalf("slot on %s", s.Pod.IP)
		}
	})
}

func TestQueuedHook(t *testing.T) {
	cases := []struct {
		name string
		// pods and held set the breaker up: held slots are taken first.
		pods  []Pod
		held  int
		waits bool
		// wantNoPods is Queued's argument and the call's cold flag.
		wantNoPods bool
	}{
		{name: "no pods: a cold start", pods: nil, waits: true, wantNoPods: true},
		{name: "pods all busy", pods: pods("10.0.0.1"), held: 1, waits: true, wantNoPods: false},
		{name: "a free slot: no wait, no hook", pods: pods("10.0.0.1"), held: 0, waits: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var b *Breaker
				var calls []bool
				var statsInHook Stats
				b = New(1, 10, time.Now, Hooks{Queued: func(noPods bool) {
					// Outside the lock: calling back into the breaker works.
					statsInHook = b.Stats()
					calls = append(calls, noPods)
				}})
				b.SetPods(tc.pods)
				var held []Slot
				for range tc.held {
					held = append(held, mustAcquire(t, b))
				}
				w := acquireAsync(b, context.Background())
				if !tc.waits {
					g := mustGet(t, w)
					if g.err != nil || g.cold {
						t.Fatalf("Acquire = %+v, want a warm slot", g)
					}
					if len(calls) != 0 {
						t.Fatalf("Queued called %v for a call that did not wait", calls)
					}
					return
				}
				mustWait(t, w, "call")
				if len(calls) != 1 || calls[0] != tc.wantNoPods {
					t.Fatalf("Queued calls = %v, want [%v]", calls, tc.wantNoPods)
				}
				if statsInHook.Waiting != 1 {
					t.Errorf("Stats in the hook = %+v, want the call counted as waiting", statsInHook)
				}
				if len(tc.pods) == 0 {
					b.SetPods(pods("10.0.0.9"))
				} else {
					b.Release(held[0])
				}
				g := mustGet(t, w)
				if g.err != nil || g.cold != tc.wantNoPods {
					t.Fatalf("Acquire = %+v, want cold %v", g, tc.wantNoPods)
				}
			})
		})
	}
}

// TestQueuedHookMayServeTheCall: a hook that makes pods at once (a pool pod
// already specialized, say) serves the call it was told about.
func TestQueuedHookMayServeTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b *Breaker
		b = New(1, 10, time.Now, Hooks{Queued: func(noPods bool) {
			if noPods {
				b.SetPods(pods("10.0.0.1"))
			}
		}})
		s, cold, err := b.Acquire(context.Background())
		if err != nil || !cold || s.Pod.IP != "10.0.0.1" {
			t.Fatalf("Acquire = %+v cold %v err %v", s, cold, err)
		}
		b.Release(s)
	})
}

func TestStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		b := New(1, 10, time.Now, Hooks{})
		if st := b.Stats(); st != (Stats{LastActivity: t0}) {
			t.Fatalf("new breaker Stats = %+v, want empty with LastActivity at creation", st)
		}
		b.SetPods(pods("10.0.0.1", "10.0.0.2"))
		time.Sleep(time.Second)
		s1 := mustAcquire(t, b)
		s2 := mustAcquire(t, b)
		if st := b.Stats(); st.InFlight != 2 || st.Pods != 2 || st.Waiting != 0 || !st.LastActivity.Equal(t0) {
			t.Fatalf("Stats = %+v, want 2 in flight on 2 pods; a call served at once is not activity", st)
		}
		time.Sleep(time.Second)
		w := acquireAsync(b, context.Background())
		if st := b.Stats(); st.Waiting != 1 || !st.LastActivity.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("Stats = %+v, want 1 waiting, activity when it started waiting", st)
		}
		time.Sleep(time.Second)
		b.Release(s1)
		s3 := mustGet(t, w).slot
		if st := b.Stats(); st.InFlight != 2 || st.Waiting != 0 || !st.LastActivity.Equal(t0.Add(3*time.Second)) {
			t.Fatalf("Stats = %+v, want 2 in flight, activity at the release", st)
		}
		b.SetPods(nil)
		time.Sleep(time.Second)
		b.Release(s2)
		b.Release(s3)
		if st := b.Stats(); st.InFlight != 0 || st.Pods != 0 || !st.LastActivity.Equal(t0.Add(4*time.Second)) {
			t.Fatalf("Stats = %+v, want nothing in flight, no pods, activity at the last release", st)
		}
	})
}

// TestNoSlotIsEverOverCommitted runs many callers against pods that come and
// go, with waits that end early, and checks that no pod ever serves more than
// its concurrency and every slot is free at the end. Run with -race.
func TestNoSlotIsEverOverCommitted(t *testing.T) {
	const (
		concurrency = 3
		callers     = 48
		calls       = 150
	)
	b := New(concurrency, callers, time.Now, Hooks{})
	all := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}
	b.SetPods(pods(all...))
	var mu sync.Mutex
	busy := map[string]int{}
	var served, gaveUp atomic.Int64

	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Go(func() {
		// Pods leave and come back while calls are in flight; at least one
		// stays so every caller is eventually served.
		rng := rand.New(rand.NewPCG(7, 7))
		for {
			select {
			case <-stop:
				b.SetPods(pods(all...))
				return
			default:
			}
			n := 1 + rng.IntN(len(all))
			perm := rng.Perm(len(all))[:n]
			var ips []string
			for _, i := range perm {
				ips = append(ips, all[i])
			}
			b.SetPods(pods(ips...))
			_ = b.Stats()
		}
	})

	var g errgroup.Group
	for c := range callers {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for range calls {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if rng.IntN(4) == 0 {
					// Some give up soon, racing the hand-over of a slot.
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rng.IntN(50))*time.Microsecond)
				}
				s, _, err := b.Acquire(ctx)
				cancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						return err
					}
					gaveUp.Add(1)
					continue
				}
				mu.Lock()
				busy[s.Pod.IP]++
				n := busy[s.Pod.IP]
				mu.Unlock()
				if n > concurrency {
					return fmt.Errorf("pod %s serves %d calls, concurrency is %d", s.Pod.IP, n, concurrency)
				}
				if rng.IntN(2) == 0 {
					runtime.Gosched() // the call runs a while
				}
				mu.Lock()
				busy[s.Pod.IP]--
				mu.Unlock()
				b.Release(s)
				served.Add(1)
			}
			return nil
		})
	}
	err := g.Wait()
	close(stop)
	churn.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.InFlight != 0 || st.Waiting != 0 {
		t.Fatalf("Stats = %+v after every call ended, want no slot taken and no waiter", st)
	}
	b.mu.Lock()
	tracked := len(b.byIP)
	b.mu.Unlock()
	if tracked != len(all) {
		t.Errorf("%d pods tracked, want the %d current ones only", tracked, len(all))
	}
	// Every slot is free: concurrency × pods calls get one at once.
	for range concurrency * len(all) {
		mustAcquire(t, b)
	}
	t.Logf("served %d calls, %d gave up", served.Load(), gaveUp.Load())
}

func TestAcquireWithinHoldsAWaitingCallAtMostHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(1, 100, time.Now, Hooks{})
		start := time.Now()
		_, cold, err := b.AcquireWithin(context.Background(), 3*time.Second)
		if !errors.Is(err, context.DeadlineExceeded) || !cold || time.Since(start) != 3*time.Second {
			t.Fatalf("no pod: cold %v, err %v after %s; want DeadlineExceeded after the 3 s hold", cold, err, time.Since(start))
		}
		if st := b.Stats(); st.Waiting != 0 {
			t.Errorf("%d calls still wait after their hold", st.Waiting)
		}
		// A free slot is taken at once, hold or not.
		b.SetPods(pods("10.0.0.1"))
		if _, _, err := b.AcquireWithin(context.Background(), time.Nanosecond); err != nil {
			t.Errorf("a free slot: %v", err)
		}
		// The call's own end comes first when it is sooner.
		ctx, cancel := context.WithCancel(context.Background())
		ch := make(chan error, 1)
		go func() { _, _, err := b.AcquireWithin(ctx, time.Hour); ch <- err }()
		synctest.Wait()
		cancel()
		if err := <-ch; !errors.Is(err, context.Canceled) {
			t.Errorf("a cancelled call waiting: %v", err)
		}
	})
}
