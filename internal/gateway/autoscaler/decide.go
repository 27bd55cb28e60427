package autoscaler

import (
	"math"
	"time"
)

// Settings are a function's scaling settings.
type Settings struct {
	Min, Max, Concurrency int32
	// TargetUtilization is the share of Concurrency each pod should carry
	// (0.1 to 1).
	TargetUtilization float64
	// ScaleDownDelay is how long demand must stay lower before pods go.
	ScaleDownDelay time.Duration
	// IdleTimeout is how long without any call before scaling to Min.
	IdleTimeout time.Duration
}

// Sample is one moment's demand of a function: calls in flight plus calls
// waiting, summed over every replica that reported.
type Sample struct {
	At          time.Time
	Concurrency float64
}

// Input is everything one decision depends on.
type Input struct {
	Now time.Time
	Settings
	// Current is the pods the function is asked to have now (its Deployment
	// replicas plus the pool pods serving it); Ready those that serve.
	Current, Ready int32
	// Recent are the samples of the burst window, oldest first; Recs are
	// the past recommendations within ScaleDownDelay, oldest first.
	Recent []Sample
	Recs   []Rec
	// IdleFor is the shortest time since any replica last had a call in
	// flight or waiting (0 while one has).
	IdleFor time.Duration
	// Complete is false when a replica did not report: its demand is
	// unknown, so nothing is scaled down.
	Complete bool
	// LoadFailed is true when the function's current code cannot load: its
	// callers are answered at once, and its starting pods never will be.
	LoadFailed bool
}

// Rec is a past recommendation.
type Rec struct {
	At   time.Time
	Pods int32
}

// Decision is what Decide wants.
type Decision struct {
	// Desired is the pods the function should have, Rec this tick's
	// recommendation to remember.
	Desired int32
	Rec     Rec
	// Burst is true when demand jumped to twice the ready pods or more and
	// was followed at once.
	Burst bool
	// Reason says why, for logs and tests.
	Reason string
}

// Decide sizes one function. It is pure:
//   - this tick's recommendation is ceil(average demand over the burst
//     window / (concurrency × target utilization)), at least 1 with any
//     demand; demand of twice the ready pods or more is followed at once
//     (burst), from the latest sample alone;
//   - up at once; down only after demand stayed lower for ScaleDownDelay:
//     the largest recommendation within it keeps the pods that exist (it
//     never adds pods);
//   - to Min as soon as no replica had a call in flight or waiting for
//     IdleTimeout (the scale-down delay does not hold it); until then one
//     pod stays;
//   - never down while a replica's demand is unknown, or while pods asked
//     for are still starting (unless the code cannot load, or nothing has
//     called for IdleTimeout);
//   - always within [Min, Max].
func Decide(in Input) Decision {
	perPod := float64(max(in.Concurrency, 1)) * in.TargetUtilization
	if perPod <= 0 {
		perPod = float64(max(in.Concurrency, 1))
	}
	var sum float64
	for _, s := range in.Recent {
		sum += s.Concurrency
	}
	rec := pods(0, perPod)
	if len(in.Recent) > 0 {
		rec = pods(sum/float64(len(in.Recent)), perPod)
	}
	d := Decision{Reason: "demand"}
	if n := len(in.Recent); n > 0 {
		if burst := pods(in.Recent[n-1].Concurrency, perPod); burst >= 2*max(in.Ready, 1) && burst > rec {
			rec, d.Burst, d.Reason = burst, true, "burst"
		}
	}
	d.Rec = Rec{At: in.Now, Pods: min(rec, in.Max)}
	want := d.Rec.Pods
	idle := in.IdleFor >= in.IdleTimeout
	if idle {
		// No call anywhere for IdleTimeout: back to Min, whatever demand
		// was within the scale-down delay.
		want, d.Reason = 0, "idle"
	} else {
		// The window of past recommendations keeps pods that exist; it
		// never adds any (a function scaled down by hand stays down).
		for _, r := range in.Recs {
			if held := min(r.Pods, in.Current); in.Now.Sub(r.At) <= in.ScaleDownDelay && held > want {
				want, d.Reason = held, "scale-down delay"
			}
		}
		if want == 0 && in.Current > 0 {
			want, d.Reason = 1, "waiting for the idle timeout"
		}
	}
	want = min(max(want, in.Min), in.Max)
	if want < in.Current {
		switch {
		case !in.Complete:
			want, d.Reason = in.Current, "a replica's demand is unknown"
		case in.Ready < in.Current && !in.LoadFailed && !idle:
			want, d.Reason = in.Current, "pods are still starting"
		}
	}
	d.Desired = want
	return d
}

// pods is how many pods carry demand at perPod each: at least one for any.
func pods(demand, perPod float64) int32 {
	if demand <= 0 {
		return 0
	}
	n := math.Ceil(demand/perPod - 1e-9)
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return max(int32(n), 1)
}
