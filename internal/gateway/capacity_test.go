package gateway

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"
)

func testFn(concurrency int32) *function {
	return newFunction(types.NamespacedName{Namespace: "ns", Name: "f"}, 8080,
		&functionInfo{MaxReplicas: 3, Concurrency: concurrency, IdleTimeout: time.Minute, CallTimeout: time.Second,
			ReadyMessage: "LoadFailed: the function's code failed to load: SyntaxError"}, time.Now())
}

func (f *function) setReady(ips ...string) {
	f.mu.Lock()
	f.setPodsLocked(ips)
	f.mu.Unlock()
}

func TestBurstAtZeroCausesExactlyOneScaleUpAndAllCallsGetAPod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := testFn(1000)
		var scaleUps atomic.Int32
		scaleUp := func(*function) {
			scaleUps.Add(1)
			go func() {
				time.Sleep(200 * time.Millisecond) // the pod starts
				f.setReady("10.0.0.1")
			}()
		}
		var g errgroup.Group
		for range 1000 {
			g.Go(func() error {
				p, cold, err := f.acquire(context.Background(), 2000, time.Now, scaleUp)
				if err != nil {
					return err
				}
				if !cold || p.ip != "10.0.0.1" {
					return errors.New("expected a cold call served by the new pod")
				}
				f.release(p, time.Now())
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if n := scaleUps.Load(); n != 1 {
			t.Errorf("scale-ups = %d, want exactly 1", n)
		}
	})
}

func TestConcurrencyPerPodIsRespected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := testFn(2)
		f.setReady("10.0.0.1", "10.0.0.2")
		noScale := func(*function) { t.Error("no scale-up expected with ready pods") }
		var held []*pod
		for range 4 {
			p, cold, err := f.acquire(context.Background(), 10, time.Now, noScale)
			if err != nil || cold {
				t.Fatalf("acquire: %v cold=%v", err, cold)
			}
			held = append(held, p)
		}
		per := map[string]int{}
		for _, p := range held {
			per[p.ip]++
		}
		if per["10.0.0.1"] != 2 || per["10.0.0.2"] != 2 {
			t.Fatalf("calls per pod = %v, want 2 and 2", per)
		}
		// A fifth call waits for a slot, and gets it when one is released.
		got := make(chan *pod)
		go func() {
			p, _, err := f.acquire(context.Background(), 10, time.Now, noScale)
			if err != nil {
				t.Error(err)
			}
			got <- p
		}()
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("a call got a slot beyond the pods' concurrency")
		default:
		}
		f.release(held[0], time.Now())
		if p := <-got; p.ip != held[0].ip {
			t.Errorf("the waiting call went to %s, want the freed pod %s", p.ip, held[0].ip)
		}
	})
}

func TestWaitingLimitAndHoldTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := testFn(1)
		var scaleUps atomic.Int32
		scaleUp := func(*function) { scaleUps.Add(1) } // the pod never comes
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for range 3 {
			wg.Go(func() {
				_, _, err := f.acquire(ctx, 3, time.Now, scaleUp)
				errs <- err
			})
		}
		synctest.Wait()
		if _, _, err := f.acquire(ctx, 3, time.Now, scaleUp); !errors.Is(err, ErrQueueFull) {
			t.Errorf("4th waiting call: err = %v, want ErrQueueFull", err)
		}
		start := time.Now()
		wg.Wait()
		close(errs)
		for err := range errs {
			if !errors.Is(err, ErrColdStartTimeout) {
				t.Errorf("err = %v, want ErrColdStartTimeout", err)
			} else if want := "SyntaxError"; !strings.Contains(err.Error(), want) {
				t.Errorf("timeout error %q does not give the reason %q", err, want)
			}
		}
		if waited := time.Since(start); waited != 30*time.Second {
			t.Errorf("calls waited %s, want the 30s hold timeout", waited)
		}
		if scaleUps.Load() != 1 {
			t.Errorf("scale-ups = %d, want 1", scaleUps.Load())
		}
	})
}

func TestFailedScaleUpIsRetriedAfterBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := testFn(1)
		var scaleUps atomic.Int32
		scaleUp := func(fn *function) {
			if scaleUps.Add(1) == 1 {
				go fn.scaleUpDone(errors.New("API server unavailable"), time.Now())
				return
			}
			go fn.setReady("10.0.0.1")
		}
		p, _, err := f.acquire(context.Background(), 10, time.Now, scaleUp)
		if err != nil {
			t.Fatal(err)
		}
		f.release(p, time.Now())
		if n := scaleUps.Load(); n != 2 {
			t.Errorf("scale-ups = %d, want 2 (one failed, one retried)", n)
		}
	})
}

func TestScaledToZeroWhileWaitingTriggersNewScaleUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := testFn(1)
		f.info.Store(&functionInfo{Desired: 1, Concurrency: 1}) // the informer says: wants a pod
		var scaleUps atomic.Int32
		scaleUp := func(fn *function) { scaleUps.Add(1); go fn.setReady("10.0.0.9") }
		done := make(chan error)
		go func() {
			_, _, err := f.acquire(context.Background(), 10, time.Now, scaleUp)
			done <- err
		}()
		synctest.Wait()
		if scaleUps.Load() != 0 {
			t.Fatal("no scale-up expected while the Function already wants a pod")
		}
		// The idler scaled the function to zero meanwhile; the informer tells.
		f.info.Store(&functionInfo{Desired: 0, Concurrency: 1})
		f.mu.Lock()
		f.broadcastLocked()
		f.mu.Unlock()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if scaleUps.Load() != 1 {
			t.Errorf("scale-ups = %d, want 1", scaleUps.Load())
		}
	})
}
