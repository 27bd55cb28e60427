package autoscaler

import (
	"testing"
	"time"
)

// A Function with minReplicas 1 keeps spec.replicas unset (0): the
// conditional update must compare with what the scale subresource holds,
// not the clamped count, or the function never scales out.
func TestTickScalesAFunctionWhoseSpecReplicasIsBelowMin(t *testing.T) {
	r := newRig(t)
	fn := function(fnKey, 1, 0, 1)
	fn.Min, fn.SpecReplicas = 1, 0
	r.fns.set(fn)
	r.load(Load{InFlight: 1, Waiting: 4}, Load{})
	r.tickAt(t, 0)
	r.wantScaleCalls(t, scaleCall{fnKey, 5})
	if got := r.scaler.replicas[fnKey]; got != 5 {
		t.Fatalf("scale is %d after the tick, want 5", got)
	}
}

// A peer that has failed to report for GoneAfter (its node died, its pod
// lingers as terminating) no longer freezes scale-downs.
func TestTickGivesUpOnAPeerFailingForGoneAfter(t *testing.T) {
	r := newRig(t)
	r.a.Collector.GoneAfter = 30 * time.Second
	r.a.Collector.Now = func() time.Time { return r.now }
	s := tickSettings
	s.ScaleDownDelay = 0
	f := function(fnKey, 5, 0, 5)
	f.Settings = s
	r.fns.set(f)
	r.scaler.replicas[fnKey] = 5
	r.local.set(Report{Replica: "me", Functions: map[string]Load{fnKey.String(): {InFlight: 1}}})
	r.peer.set(Report{}, "500")
	r.tickAt(t, 0)
	r.tickAt(t, 10*time.Second)
	r.wantScaleCalls(t)
	r.tickAt(t, 31*time.Second)
	r.wantScaleCalls(t, scaleCall{fnKey, 1})
}
