package autoscaler

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// baseSettings: one call per pod at full utilization, up to 10 pods, a
// minute's scale-down delay, five minutes to idle.
var baseSettings = Settings{Min: 0, Max: 10, Concurrency: 1, TargetUtilization: 1,
	ScaleDownDelay: time.Minute, IdleTimeout: 5 * time.Minute}

// demand makes the burst window's samples, one every 2s, the last at t0.
func demand(c ...float64) []Sample {
	out := make([]Sample, len(c))
	for i, v := range c {
		out[i] = Sample{At: t0.Add(-time.Duration(len(c)-1-i) * 2 * time.Second), Concurrency: v}
	}
	return out
}

// rec is a past recommendation made ago before t0.
func rec(ago time.Duration, pods int32) Rec { return Rec{At: t0.Add(-ago), Pods: pods} }

func TestDecide(t *testing.T) {
	cases := []struct {
		name string
		in   func(in *Input)
		// want is the desired pods; burst and reason are checked when set.
		want   int32
		burst  bool
		reason string
	}{
		// Demand → pods.
		{name: "no demand and no pods stays at zero", want: 0, in: func(in *Input) {
			in.Recent = demand(0)
		}},
		{name: "demand from zero", want: 5, reason: "demand", in: func(in *Input) {
			in.Recent = demand(5)
		}},
		{name: "the window's average", want: 4, reason: "demand", in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 4, 4, demand(2, 4, 6)
		}},
		{name: "ceil(avg / (concurrency × utilization))", want: 3, in: func(in *Input) {
			in.Concurrency, in.TargetUtilization = 10, 0.7
			in.Current, in.Ready, in.Recent = 3, 3, demand(15)
		}},
		{name: "an exact multiple is not rounded up", want: 2, in: func(in *Input) {
			in.Concurrency, in.TargetUtilization = 10, 0.7
			in.Current, in.Ready, in.Recent = 2, 2, demand(14)
		}},
		{name: "utilization 0.1", want: 5, in: func(in *Input) {
			in.Concurrency, in.TargetUtilization = 10, 0.1
			in.Current, in.Ready, in.Recent = 5, 5, demand(5)
		}},
		{name: "any demand needs a pod", want: 1, in: func(in *Input) {
			in.Concurrency = 100
			in.Recent = demand(0.01)
		}},
		{name: "average demand below one call still needs a pod", want: 1, in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 1, 1, demand(0, 0, 0, 0, 1)
		}},
		{name: "zero utilization means full concurrency", want: 2, in: func(in *Input) {
			in.Concurrency, in.TargetUtilization = 4, 0
			in.Current, in.Ready, in.Recent = 2, 2, demand(8)
		}},
		{name: "zero concurrency counts as one", want: 3, in: func(in *Input) {
			in.Concurrency = 0
			in.Current, in.Ready, in.Recent = 3, 3, demand(3)
		}},

		// Bursts.
		{name: "burst: latest sample at twice the ready pods is followed at once", want: 8, burst: true, reason: "burst", in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 1, 1, demand(0, 0, 0, 8)
		}},
		{name: "burst from zero ready counts one ready pod", want: 2, burst: true, in: func(in *Input) {
			in.Recent = demand(0, 2)
		}},
		{name: "burst is capped by Max", want: 10, burst: true, in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 1, 1, demand(0, 0, 0, 50)
		}},
		{name: "below twice the ready pods is no burst", want: 5, burst: false, reason: "demand", in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 4, 4, demand(4, 4, 4, 7)
		}},
		{name: "no burst when the average already asks as much", want: 6, burst: false, in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 1, 1, demand(6)
		}},

		// Up at once, down after ScaleDownDelay.
		{name: "scale-up is immediate", want: 6, reason: "demand", in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 2, 2, demand(6)
			in.Recs = []Rec{rec(50*time.Second, 2), rec(2*time.Second, 2)}
		}},
		{name: "scale-down waits within ScaleDownDelay", want: 6, reason: "scale-down delay", in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 6, 6, demand(2)
			in.Recs = []Rec{rec(30*time.Second, 6), rec(2*time.Second, 2)}
		}},
		{name: "a recommendation exactly ScaleDownDelay old still holds", want: 6, in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 6, 6, demand(2)
			in.Recs = []Rec{rec(time.Minute, 6)}
		}},
		{name: "down to the largest recommendation within the delay", want: 4, reason: "scale-down delay", in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 6, 6, demand(2)
			in.Recs = []Rec{rec(61*time.Second, 6), rec(30*time.Second, 4), rec(2*time.Second, 3)}
		}},
		{name: "down once demand stayed lower for the delay", want: 2, reason: "demand", in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 6, 6, demand(2)
			in.Recs = []Rec{rec(61*time.Second, 6), rec(30*time.Second, 2)}
		}},
		{name: "no delay: down at once", want: 2, in: func(in *Input) {
			in.ScaleDownDelay = 0
			in.Current, in.Ready, in.Recent = 6, 6, demand(2)
			in.Recs = []Rec{rec(time.Second, 6)}
		}},

		// Idle.
		{name: "no demand holds one pod until IdleTimeout", want: 1, reason: "waiting for the idle timeout", in: func(in *Input) {
			in.Current, in.Ready, in.Recent, in.IdleFor = 3, 3, demand(0), 4*time.Minute
		}},
		{name: "idle for IdleTimeout: to zero", want: 0, reason: "idle", in: func(in *Input) {
			in.Current, in.Ready, in.Recent, in.IdleFor = 3, 3, demand(0), 5*time.Minute
		}},
		{name: "idle for IdleTimeout: to Min", want: 2, in: func(in *Input) {
			in.Min = 2
			in.Current, in.Ready, in.Recent, in.IdleFor = 3, 3, demand(0), time.Hour
		}},
		{name: "idle goes to Min even within the scale-down delay of demand", want: 0, reason: "idle", in: func(in *Input) {
			in.Current, in.Ready, in.Recent, in.IdleFor = 3, 3, demand(0), time.Hour
			in.Recs = []Rec{rec(10*time.Second, 3)}
		}},
		{name: "no samples yet and no pods", want: 0, in: func(in *Input) {}},
		{name: "scaled to zero by hand: past demand does not bring pods back", want: 0, in: func(in *Input) {
			in.Current, in.Ready, in.Recent, in.IdleFor = 0, 0, demand(0), time.Second
			in.Recs = []Rec{rec(10*time.Second, 3)}
		}},
		{name: "scaled down by hand: the window keeps what is left", want: 2, reason: "scale-down delay", in: func(in *Input) {
			in.Current, in.Ready, in.Recent, in.IdleFor = 2, 2, demand(0), time.Second
			in.Recs = []Rec{rec(10*time.Second, 5)}
		}},

		// Bounds.
		{name: "bounded by Max", want: 10, in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 10, 10, demand(100)
		}},
		{name: "above Max comes down to Max", want: 10, in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 12, 12, demand(100)
		}},
		{name: "Min with demand", want: 3, in: func(in *Input) {
			in.Min = 3
			in.Current, in.Ready, in.Recent = 3, 3, demand(1)
		}},
		{name: "Min from zero without demand", want: 2, in: func(in *Input) {
			in.Min = 2
			in.Recent = demand(0)
		}},
		{name: "Min holds while waiting for the idle timeout", want: 2, in: func(in *Input) {
			in.Min = 2
			in.Current, in.Ready, in.Recent, in.IdleFor = 4, 4, demand(0), time.Minute
		}},

		// Unknown demand.
		{name: "a replica did not report: no scale-down", want: 5, reason: "a replica's demand is unknown", in: func(in *Input) {
			in.Complete = false
			in.Current, in.Ready, in.Recent = 5, 5, demand(1)
		}},
		{name: "a replica did not report: no scale to zero", want: 1, in: func(in *Input) {
			in.Complete = false
			in.Current, in.Ready, in.Recent, in.IdleFor = 1, 1, demand(0), time.Hour
		}},
		{name: "a replica did not report: scale-up still", want: 5, in: func(in *Input) {
			in.Complete = false
			in.Current, in.Ready, in.Recent = 1, 1, demand(5)
		}},

		// Starting pods.
		{name: "pods starting: no scale-down", want: 5, reason: "pods are still starting", in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 5, 2, demand(1)
		}},
		{name: "pods starting, code cannot load: down", want: 1, in: func(in *Input) {
			in.LoadFailed = true
			in.Current, in.Ready, in.Recent = 5, 2, demand(1)
		}},
		{name: "pods starting, idle for IdleTimeout: to zero", want: 0, reason: "idle", in: func(in *Input) {
			in.Current, in.Ready, in.Recent, in.IdleFor = 5, 0, demand(0), 5*time.Minute
		}},
		{name: "pods starting, not idle long enough: held", want: 5, in: func(in *Input) {
			in.Current, in.Ready, in.Recent, in.IdleFor = 5, 0, demand(0), time.Minute
		}},
		{name: "pods starting: scale-up still", want: 5, in: func(in *Input) {
			in.Current, in.Ready, in.Recent = 2, 0, demand(5)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Now: t0, Settings: baseSettings, Complete: true}
			tc.in(&in)
			d := Decide(in)
			if d.Desired != tc.want {
				t.Errorf("Desired = %d (%s), want %d", d.Desired, d.Reason, tc.want)
			}
			if d.Burst != tc.burst {
				t.Errorf("Burst = %v, want %v", d.Burst, tc.burst)
			}
			if tc.reason != "" && d.Reason != tc.reason {
				t.Errorf("Reason = %q, want %q", d.Reason, tc.reason)
			}
			if d.Rec.At != t0 || d.Rec.Pods < 0 || d.Rec.Pods > in.Max {
				t.Errorf("Rec = %+v, want this tick's, within [0, Max]", d.Rec)
			}
			if d.Desired < in.Min || d.Desired > in.Max {
				t.Errorf("Desired %d outside [%d, %d]", d.Desired, in.Min, in.Max)
			}
		})
	}
}

// TestDecideRecIsTheDemandAlone: the remembered recommendation is what this
// tick's demand asks for, not what delay or idle rules made of it.
func TestDecideRecIsTheDemandAlone(t *testing.T) {
	cases := []struct {
		name string
		in   Input
		want int32
	}{
		{"held by an older recommendation", Input{Current: 6, Ready: 6, Recent: demand(2), Recs: []Rec{rec(time.Second, 6)}}, 2},
		{"waiting for the idle timeout", Input{Current: 3, Ready: 3, Recent: demand(0)}, 0},
		{"burst", Input{Current: 1, Ready: 1, Recent: demand(0, 0, 0, 8)}, 8},
		{"capped by Max", Input{Current: 1, Ready: 1, Recent: demand(40)}, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Now, tc.in.Settings, tc.in.Complete = t0, baseSettings, true
			if d := Decide(tc.in); d.Rec.Pods != tc.want {
				t.Errorf("Rec.Pods = %d, want %d", d.Rec.Pods, tc.want)
			}
		})
	}
}

func TestPods(t *testing.T) {
	cases := []struct {
		demand, perPod float64
		want           int32
	}{
		{0, 1, 0},
		{-3, 1, 0},
		{1e-6, 1, 1},
		{1, 1, 1},
		{1.0000001, 1, 2},
		{7, 0.7, 10},
		{2.1, 0.7, 3},
		{1e18, 1, math.MaxInt32},
	}
	for _, tc := range cases {
		if got := pods(tc.demand, tc.perPod); got != tc.want {
			t.Errorf("pods(%v, %v) = %d, want %d", tc.demand, tc.perPod, got, tc.want)
		}
	}
}
