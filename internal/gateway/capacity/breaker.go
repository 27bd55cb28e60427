package capacity

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// Pod is one ready pod calls may go to.
type Pod struct {
	// IP identifies the pod; Addr is where calls go.
	IP, Addr string
	// FromPool is true for a pool pod specialized for the function.
	FromPool bool
}

// Slot is a call's reservation on a pod; Release gives it back.
type Slot struct {
	Pod Pod
	s   *podSlots
}

// Hooks are told about waiting calls, outside the breaker's lock.
type Hooks struct {
	// Queued is called when a call starts waiting; noPods tells whether the
	// function has no pod at all (a cold start) or all pods are busy.
	Queued func(noPods bool)
}

// Stats is a breaker's load at one moment.
type Stats struct {
	InFlight, Waiting, Pods int
	// LastActivity is when a call last started waiting or ended.
	LastActivity time.Time
}

// Breaker hands out slots on a function's pods. The zero value is not
// usable; see New.
type Breaker struct {
	hooks      Hooks
	maxWaiting int
	now        func() time.Time

	mu sync.Mutex
	// pods in round-robin order; guarded by mu.
	pods []*podSlots
	// byIP are the current pods and the departed ones with calls still in
	// flight, so a pod that leaves and comes back keeps its count.
	byIP map[string]*podSlots
	next int
	// limit is the calls one pod serves at once; guarded by mu.
	limit int
	// waiters are *waiter in arrival order; guarded by mu.
	waiters      list.List
	inFlight     int
	lastActivity time.Time
	// closed, when set, is every waiter's and every new call's answer.
	closed error
}

type podSlots struct {
	pod      Pod
	inFlight int  // guarded by Breaker.mu
	current  bool // among Breaker.pods; guarded by Breaker.mu
}

type waiter struct {
	ch chan result // buffered 1: the breaker never blocks handing a slot over
}

type result struct {
	slot Slot
	err  error
}

// New makes a Breaker with concurrency slots per pod and at most maxWaiting
// waiting calls.
func New(concurrency, maxWaiting int, now func() time.Time, hooks Hooks) *Breaker {
	return &Breaker{
		hooks: hooks, maxWaiting: maxWaiting, now: now,
		byIP: map[string]*podSlots{}, limit: max(concurrency, 1), lastActivity: now(),
	}
}

// Acquire reserves a slot, waiting in arrival order while every pod is busy
// or there is none. cold tells whether the call found no pod at all. It
// fails with ErrQueueFull, with the breaker's Close error, or with ctx's.
func (b *Breaker) Acquire(ctx context.Context) (slot Slot, cold bool, err error) {
	return b.AcquireWithin(ctx, 0)
}

// AcquireWithin is Acquire waiting at most hold (0: as long as ctx lasts),
// then failing with context.DeadlineExceeded. The timer is made only when
// the call has to wait: a call that finds a free slot pays for none.
func (b *Breaker) AcquireWithin(ctx context.Context, hold time.Duration) (slot Slot, cold bool, err error) {
	b.mu.Lock()
	if b.closed != nil {
		err := b.closed
		b.mu.Unlock()
		return Slot{}, false, err
	}
	// Waiters go first: a newcomer never overtakes them.
	if b.waiters.Len() == 0 {
		if p := b.pickLocked(); p != nil {
			s := b.takeLocked(p)
			b.mu.Unlock()
			return s, false, nil
		}
	}
	if n := b.waiters.Len(); n >= b.maxWaiting {
		b.mu.Unlock()
		return Slot{}, false, fmt.Errorf("%w: %d calls are already waiting", ErrQueueFull, n)
	}
	cold = len(b.pods) == 0
	w := &waiter{ch: make(chan result, 1)}
	el := b.waiters.PushBack(w)
	b.lastActivity = b.now()
	b.mu.Unlock()
	if b.hooks.Queued != nil {
		b.hooks.Queued(cold)
	}

	var expired <-chan time.Time
	if hold > 0 {
		timer := time.NewTimer(hold)
		defer timer.Stop()
		expired = timer.C
	}
	waitErr := error(nil)
	select {
	case r := <-w.ch:
		return r.slot, cold, r.err
	case <-ctx.Done():
		waitErr = ctx.Err()
	case <-expired:
		waitErr = context.DeadlineExceeded
	}
	b.mu.Lock()
	select {
	case r := <-w.ch:
		// Handed a slot (or an error) just as ctx ended: pass the slot on.
		b.mu.Unlock()
		if r.err == nil {
			b.Release(r.slot)
		}
	default:
		b.waiters.Remove(el)
		b.mu.Unlock()
	}
	return Slot{}, cold, waitErr
}

// Release frees a slot and hands it to the first waiter, if any.
func (b *Breaker) Release(s Slot) {
	b.mu.Lock()
	s.s.inFlight--
	b.inFlight--
	if !s.s.current && s.s.inFlight == 0 && b.byIP[s.Pod.IP] == s.s {
		delete(b.byIP, s.Pod.IP)
	}
	b.lastActivity = b.now()
	b.dispatchLocked()
	b.mu.Unlock()
}

// SetPods replaces the pods calls may go to. Pods that stay keep their
// calls in flight; calls on pods that left finish and release as usual.
func (b *Breaker) SetPods(pods []Pod) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ps := range b.pods {
		ps.current = false
	}
	order := make([]*podSlots, 0, len(pods))
	for _, p := range pods {
		ps, ok := b.byIP[p.IP]
		if !ok {
			ps = &podSlots{}
			b.byIP[p.IP] = ps
		}
		ps.pod, ps.current = p, true
		order = append(order, ps)
	}
	for ip, ps := range b.byIP {
		if !ps.current && ps.inFlight == 0 {
			delete(b.byIP, ip)
		}
	}
	b.pods = order
	if b.next >= len(order) {
		b.next = 0
	}
	b.dispatchLocked()
}

// SetConcurrency changes the calls one pod serves at once.
func (b *Breaker) SetConcurrency(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.limit = max(n, 1)
	b.dispatchLocked()
}

// FailWaiting answers every waiting call with err, leaving calls in flight
// and later calls alone; for example when the function cannot load.
func (b *Breaker) FailWaiting(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failWaitersLocked(err)
}

// Close answers every waiting and every later call with err: the function
// is gone.
func (b *Breaker) Close(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = err
	b.failWaitersLocked(err)
}

func (b *Breaker) failWaitersLocked(err error) {
	for el := b.waiters.Front(); el != nil; el = b.waiters.Front() {
		b.waiters.Remove(el).(*waiter).ch <- result{err: err}
	}
}

// Stats returns the breaker's load now.
func (b *Breaker) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{InFlight: b.inFlight, Waiting: b.waiters.Len(), Pods: len(b.pods), LastActivity: b.lastActivity}
}

// dispatchLocked hands free slots to waiters in arrival order, one waiter
// per slot. b.mu must be held.
func (b *Breaker) dispatchLocked() {
	for b.waiters.Len() > 0 {
		p := b.pickLocked()
		if p == nil {
			return
		}
		w := b.waiters.Remove(b.waiters.Front()).(*waiter)
		w.ch <- result{slot: b.takeLocked(p)}
	}
}

func (b *Breaker) takeLocked(p *podSlots) Slot {
	p.inFlight++
	b.inFlight++
	return Slot{Pod: p.pod, s: p}
}

// pickLocked returns the pod with the fewest calls in flight below the
// limit, starting from the round-robin position so equally loaded pods share
// the work; nil when all are full. b.mu must be held.
func (b *Breaker) pickLocked() *podSlots {
	n := len(b.pods)
	if n == 0 {
		return nil
	}
	var best *podSlots
	for i := 0; i < n; i++ {
		p := b.pods[(b.next+i)%n]
		if p.inFlight < b.limit && (best == nil || p.inFlight < best.inFlight) {
			best = p
			if p.inFlight == 0 {
				break
			}
		}
	}
	b.next = (b.next + 1) % n
	return best
}
