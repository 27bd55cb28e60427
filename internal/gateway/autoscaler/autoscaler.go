package autoscaler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
)

// Function is what the autoscaler needs of one function.
type Function struct {
	Key types.NamespacedName
	Settings
	// Replicas is the Function's desired Deployment replicas, within
	// [Min, Max]; SpecReplicas its scale as written, which a conditional
	// update must match; PoolPods the pool pods serving it; Ready the pods
	// that serve.
	Replicas, SpecReplicas, PoolPods, Ready int32
	LoadFailed                              bool
}

// Functions lists the functions to size.
type Functions interface {
	Scalable() []Function
}

// Scaler writes a Function's desired Deployment replicas: to want if cond
// holds for the current value, atomically.
type Scaler interface {
	ScaleIf(ctx context.Context, fn types.NamespacedName, want int32, cond func(current int32) bool) (from int32, changed bool, err error)
}

// Zeroer does what scaling to zero needs beyond the Deployment.
type Zeroer interface {
	// PodsIdle asks the function's pods themselves whether a call is in
	// flight or ended within idle: the pods see calls of any gateway, even
	// one the autoscaler does not know.
	PodsIdle(ctx context.Context, fn types.NamespacedName, idle time.Duration) (bool, error)
	// RemovePoolPods takes n of the pool pods serving fn out of rotation
	// and deletes them; they finish their calls in flight as they stop.
	RemovePoolPods(ctx context.Context, fn types.NamespacedName, n int32) error
}

// Observer is told about scale changes.
type Observer interface {
	Scaled(fn types.NamespacedName, from, to int32, reason string)
	Desired(fn types.NamespacedName, desired int32)
}

// Timing is the autoscaler's clock.
type Timing struct {
	// Interval is how often demand is sampled and decided on; BurstWindow
	// is the window whose average makes a recommendation.
	Interval, BurstWindow time.Duration
	// ScrapeTimeout bounds one round of collecting the replicas' load;
	// APITimeout one write of a scale.
	ScrapeTimeout, APITimeout time.Duration
}

// Autoscaler sizes functions; Run drives it.
type Autoscaler struct {
	Collector *Collector
	Functions Functions
	Scaler    Scaler
	Zeroer    Zeroer
	Observer  Observer
	Timing    Timing
	Log       logr.Logger
	Now       func() time.Time

	// mu serializes ticks: a lost and regained lease may briefly run two.
	mu sync.Mutex
	// history per function; guarded by mu.
	history map[types.NamespacedName]*history
	// incomplete is whether the last tick missed a replica; guarded by mu.
	incomplete bool
}

type history struct {
	// since is when this autoscaler first saw the function: until it has
	// watched it for the scale-down delay, it does not scale it down (a
	// new leader knows no past demand), except to Min when idle.
	since   time.Time
	samples []Sample
	recs    []Rec
}

// Run decides every Interval until ctx is done.
func (a *Autoscaler) Run(ctx context.Context) {
	ticker := time.NewTicker(a.Timing.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		a.Tick(ctx)
	}
}

// Tick collects once, decides for every function and acts.
func (a *Autoscaler) Tick(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.history == nil {
		a.history = map[types.NamespacedName]*history{}
	}
	scrapeCtx, cancel := context.WithTimeout(ctx, a.Timing.ScrapeTimeout)
	reports, complete, errs := a.Collector.Collect(scrapeCtx)
	cancel()
	if !complete && !a.incomplete {
		a.Log.Info("Not every gateway replica reported its load; holding scale-downs", "errors", fmt.Sprint(errs))
	} else if complete && a.incomplete {
		a.Log.Info("Every gateway replica reports its load again")
	}
	a.incomplete = !complete
	load := merge(reports)
	now := a.Now()
	live := map[types.NamespacedName]bool{}
	for _, fn := range a.Functions.Scalable() {
		live[fn.Key] = true
		h := a.history[fn.Key]
		if h == nil {
			h = &history{since: now}
			a.history[fn.Key] = h
		}
		m := load[fn.Key.String()]
		idleFor := time.Duration(m.idleSeconds * float64(time.Second))
		if !m.seen {
			idleFor = time.Duration(1<<62 - 1)
		}
		h.samples = append(h.samples, Sample{At: now, Concurrency: m.concurrency})
		h.samples = trimSamples(h.samples, now.Add(-a.Timing.BurstWindow))
		current := fn.Replicas + fn.PoolPods
		d := Decide(Input{
			Now: now, Settings: fn.Settings, Current: current, Ready: fn.Ready,
			Recent: h.samples, Recs: h.recs, IdleFor: idleFor, Complete: complete, LoadFailed: fn.LoadFailed,
		})
		h.recs = append(trimRecs(h.recs, now.Add(-fn.ScaleDownDelay)), d.Rec)
		if d.Desired < current && d.Reason != "idle" && now.Sub(h.since) < fn.ScaleDownDelay {
			d.Desired, d.Reason = current, "watching demand for the scale-down delay first"
		}
		a.Observer.Desired(fn.Key, d.Desired)
		if d.Desired < current && d.Reason != "idle" && fn.Ready < current {
			a.Log.V(1).Info("Holding a scale-down", "function", fn.Key, "reason", d.Reason)
		}
		if d.Desired != current {
			if err := a.act(ctx, fn, d, idleFor); err != nil {
				a.Log.Error(err, "Failed to scale function", "function", fn.Key, "to", d.Desired, "reason", d.Reason)
			}
		}
	}
	for key := range a.history {
		if !live[key] {
			delete(a.history, key)
		}
	}
}

func (a *Autoscaler) act(ctx context.Context, fn Function, d Decision, idleFor time.Duration) error {
	want := max(d.Desired-fn.PoolPods, 0)
	if d.Desired == 0 {
		idle, err := a.Zeroer.PodsIdle(ctx, fn.Key, fn.IdleTimeout)
		if err != nil {
			return fmt.Errorf("ask the pods of %s before scaling to zero: %w", fn.Key, err)
		}
		if !idle {
			a.Log.V(1).Info("Not scaling to zero: a pod reports calls", "function", fn.Key)
			return nil
		}
		if fn.PoolPods > 0 {
			if err := a.Zeroer.RemovePoolPods(ctx, fn.Key, fn.PoolPods); err != nil {
				return err
			}
			a.Observer.Scaled(fn.Key, fn.Replicas+fn.PoolPods, fn.Replicas, "idle: pool pods removed")
		}
	} else if surplus := fn.PoolPods - d.Desired; surplus > 0 && d.Desired < fn.Replicas+fn.PoolPods {
		// Demand stayed lower for the scale-down delay: pool pods go too,
		// not only at zero.
		if err := a.Zeroer.RemovePoolPods(ctx, fn.Key, surplus); err != nil {
			return err
		}
		a.Observer.Scaled(fn.Key, fn.Replicas+fn.PoolPods, d.Desired, d.Reason+": pool pods removed")
		a.Log.Info("Removed pool pods", "function", fn.Key, "removed", surplus, "reason", d.Reason)
	}
	if want == fn.SpecReplicas {
		return nil
	}
	from, written := fn.Replicas, fn.SpecReplicas
	ctx, cancel := context.WithTimeout(ctx, a.Timing.APITimeout)
	defer cancel()
	cur, changed, err := a.Scaler.ScaleIf(ctx, fn.Key, want, func(cur int32) bool { return cur == written })
	if err != nil {
		return err
	}
	if !changed {
		a.Log.V(1).Info("Not scaling: the function's scale changed meanwhile", "function", fn.Key, "read", written, "now", cur)
	} else {
		a.Observer.Scaled(fn.Key, from, want, d.Reason)
		a.Log.Info("Scaled function", "function", fn.Key, "from", from, "to", want, "reason", d.Reason,
			"poolPods", fn.PoolPods, "idleFor", idleFor.Round(time.Millisecond).String())
	}
	return nil
}

func trimSamples(s []Sample, since time.Time) []Sample {
	i := 0
	for i < len(s)-1 && s[i].At.Before(since) {
		i++
	}
	return append(s[:0], s[i:]...)
}

func trimRecs(r []Rec, since time.Time) []Rec {
	i := 0
	for i < len(r) && r[i].At.Before(since) {
		i++
	}
	return append(r[:0], r[i:]...)
}
