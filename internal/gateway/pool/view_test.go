package pool

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

var (
	poolA = types.NamespacedName{Namespace: "ns", Name: "a"}
	fnF   = types.NamespacedName{Namespace: "ns", Name: "f"}
	t0    = time.Unix(1000, 0)
)

func listed(pods ...string) []faasv1.PoolPod {
	var out []faasv1.PoolPod
	for i, name := range pods {
		out = append(out, faasv1.PoolPod{Name: name, PodIP: "10.0.0." + string(rune('1'+i)), Ready: true})
	}
	return out
}

func names(pods []Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

func TestSetIdle(t *testing.T) {
	notReady := faasv1.PoolPod{Name: "starting", PodIP: "10.0.0.9"}
	noIP := faasv1.PoolPod{Name: "pending", Ready: true}
	for _, tc := range []struct {
		name      string
		steps     [][]faasv1.PoolPod
		claimable []string // from the last step
		idle      int
	}{
		{"new ready pods are claimable", [][]faasv1.PoolPod{listed("p1", "p2")}, []string{"p1", "p2"}, 2},
		{"pods starting or without an address are not", [][]faasv1.PoolPod{append(listed("p1"), notReady, noIP)}, []string{"p1"}, 1},
		{"listing again says nothing new", [][]faasv1.PoolPod{listed("p1"), listed("p1")}, nil, 1},
		{"a pod no longer listed is gone", [][]faasv1.PoolPod{listed("p1", "p2"), listed("p1")}, nil, 1},
		{"a deleted pool lists nothing", [][]faasv1.PoolPod{listed("p1"), nil}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewView(time.Minute)
			var got []Pod
			for _, step := range tc.steps {
				got = v.SetIdle(poolA, faasv1.RuntimePython, step)
			}
			if !slices.Equal(names(got), tc.claimable) {
				t.Errorf("claimable %v, want %v", names(got), tc.claimable)
			}
			if n := v.IdleCount("ns", faasv1.RuntimePython); n != tc.idle {
				t.Errorf("%d idle, want %d", n, tc.idle)
			}
		})
	}
}

func TestATakenPodIsNotClaimableAgainUntilItsPoolDropsIt(t *testing.T) {
	v := NewView(time.Minute)
	v.SetIdle(poolA, faasv1.RuntimePython, listed("p1"))
	p, ok := v.Take("ns", faasv1.RuntimePython, "f", nil)
	if !ok || p.Name != "p1" || p.Pool != "a" {
		t.Fatalf("took %+v %v", p, ok)
	}
	// The pool's status was written before the hand-over landed.
	if got := v.SetIdle(poolA, faasv1.RuntimePython, listed("p1")); len(got) != 0 || v.IdleCount("ns", faasv1.RuntimePython) != 0 {
		t.Fatalf("a taken pod came back: %v", names(got))
	}
	v.SetIdle(poolA, faasv1.RuntimePython, nil)
	// The same name listed again later is a new idle pod.
	if got := v.SetIdle(poolA, faasv1.RuntimePython, listed("p1")); !slices.Equal(names(got), []string{"p1"}) {
		t.Errorf("claimable %v after the pod was listed anew", names(got))
	}
}

func TestReturnPutsBackOnlyAPodItsPoolStillLists(t *testing.T) {
	v := NewView(time.Minute)
	v.SetIdle(poolA, faasv1.RuntimePython, listed("p1", "p2"))
	p1, _ := v.Take("ns", faasv1.RuntimePython, "f", map[string]bool{"p2": true})
	p2, _ := v.Take("ns", faasv1.RuntimePython, "f", nil)
	v.SetIdle(poolA, faasv1.RuntimePython, listed("p1"))
	v.Return(p1)
	v.Return(p2)
	if got := names(v.IdlePods()); !slices.Equal(got, []string{"p1"}) {
		t.Errorf("idle %v after returns, want [p1]", got)
	}
}

func TestTakeRanksPodsTheSameWayOnEveryReplica(t *testing.T) {
	a, b := NewView(time.Minute), NewView(time.Minute)
	a.SetIdle(poolA, faasv1.RuntimePython, listed("p1", "p2", "p3"))
	b.SetIdle(poolA, faasv1.RuntimePython, listed("p3", "p2", "p1"))
	for _, fn := range []string{"f", "g", "h", "i"} {
		pa, _ := a.Take("ns", faasv1.RuntimePython, fn, nil)
		pb, _ := b.Take("ns", faasv1.RuntimePython, fn, nil)
		if pa.Name != pb.Name {
			t.Errorf("%s: replicas took %s and %s", fn, pa.Name, pb.Name)
		}
		a.Return(pa)
		b.Return(pb)
	}
}

func kinds(obs []Observation) []string {
	var out []string
	for _, o := range obs {
		k := "serving"
		if o.Ended {
			k = "ended"
		}
		out = append(out, k+":"+o.Pod.Name+"@"+o.Pod.IP)
	}
	slices.Sort(out)
	return out
}

func TestSetSpecialized(t *testing.T) {
	ready := func(name, ip string) faasv1.PoolPod {
		return faasv1.PoolPod{Name: name, PodIP: ip, Ready: true, SpecHash: "h"}
	}
	starting := func(name, ip string) faasv1.PoolPod { return faasv1.PoolPod{Name: name, PodIP: ip, SpecHash: "h"} }
	for _, tc := range []struct {
		name  string
		steps [][]faasv1.PoolPod
		want  []string // observations of the last step
		count int
	}{
		{"a ready pod serves", [][]faasv1.PoolPod{{ready("p", "10.0.0.1")}}, []string{"serving:p@10.0.0.1"}, 1},
		{"a starting pod does not yet", [][]faasv1.PoolPod{{starting("p", "10.0.0.1")}}, nil, 1},
		{"it serves once ready", [][]faasv1.PoolPod{{starting("p", "10.0.0.1")}, {ready("p", "10.0.0.1")}}, []string{"serving:p@10.0.0.1"}, 1},
		{"listing again says nothing", [][]faasv1.PoolPod{{ready("p", "10.0.0.1")}, {ready("p", "10.0.0.1")}}, nil, 1},
		{"a pod no longer listed ended", [][]faasv1.PoolPod{{ready("p", "10.0.0.1")}, nil}, []string{"ended:p@10.0.0.1"}, 0},
		{"a new address ends the old one", [][]faasv1.PoolPod{{ready("p", "10.0.0.1")}, {ready("p", "10.0.0.2")}}, []string{"ended:p@10.0.0.1", "serving:p@10.0.0.2"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewView(time.Minute)
			var got []Observation
			for _, step := range tc.steps {
				got = v.SetSpecialized(fnF, step, t0)
			}
			if !slices.Equal(kinds(got), tc.want) {
				t.Errorf("observed %v, want %v", kinds(got), tc.want)
			}
			if n := len(v.SpecializedOf(fnF)); n != tc.count {
				t.Errorf("%d specialized, want %d", n, tc.count)
			}
		})
	}
}

func TestAClaimedPodStaysItsFunctionsUntilTheStatusCatchesUp(t *testing.T) {
	v := NewView(time.Minute)
	v.Claimed(fnF, Pod{Namespace: "ns", Name: "p", IP: "10.0.0.1", SpecHash: "h"}, t0)
	// A status written before the hand-over does not list it yet.
	if got := v.SetSpecialized(fnF, nil, t0.Add(time.Second)); len(got) != 0 || len(v.SpecializedOf(fnF)) != 1 {
		t.Fatalf("the claimed pod was dropped early: %v", kinds(got))
	}
	v.SetSpecialized(fnF, []faasv1.PoolPod{{Name: "p", PodIP: "10.0.0.1", Ready: true}}, t0.Add(2*time.Second))
	// Listed once, it ends when the status drops it, whatever its age.
	if got := v.SetSpecialized(fnF, nil, t0.Add(3*time.Second)); !slices.Equal(kinds(got), []string{"ended:p@10.0.0.1"}) {
		t.Errorf("observed %v once the status dropped it", kinds(got))
	}
}

func TestAClaimedPodNeverListedEndsAfterTheTTL(t *testing.T) {
	v := NewView(time.Minute)
	v.Claimed(fnF, Pod{Namespace: "ns", Name: "p", IP: "10.0.0.1"}, t0)
	if got := v.SetSpecialized(fnF, nil, t0.Add(2*time.Minute)); !slices.Equal(kinds(got), []string{"ended:p@10.0.0.1"}) {
		t.Errorf("observed %v after the TTL", kinds(got))
	}
}

func TestAForgottenPodDoesNotComeBackFromAnOlderStatusAndEndsWhenDropped(t *testing.T) {
	v := NewView(time.Minute)
	p := faasv1.PoolPod{Name: "p", PodIP: "10.0.0.1", Ready: true}
	v.SetSpecialized(fnF, []faasv1.PoolPod{p}, t0)
	v.Forget(fnF, "p", t0)
	if got := v.SetSpecialized(fnF, []faasv1.PoolPod{p}, t0); len(got) != 0 || len(v.SpecializedOf(fnF)) != 0 {
		t.Fatalf("a forgotten pod came back: %v", kinds(got))
	}
	// Dropped by the status, it ends: its address is free for a new pod.
	if got := v.SetSpecialized(fnF, nil, t0); !slices.Equal(kinds(got), []string{"ended:p@10.0.0.1"}) {
		t.Fatalf("observed %v when the status dropped a forgotten pod", kinds(got))
	}
	if got := v.SetSpecialized(fnF, []faasv1.PoolPod{p}, t0); !slices.Equal(kinds(got), []string{"serving:p@10.0.0.1"}) {
		t.Errorf("observed %v for a pod listed anew", kinds(got))
	}
}

func TestAPodWhoseDeletionFailedCountsAgain(t *testing.T) {
	v := NewView(time.Minute)
	p := faasv1.PoolPod{Name: "p", PodIP: "10.0.0.1", Ready: true}
	v.SetSpecialized(fnF, []faasv1.PoolPod{p}, t0)
	v.Forget(fnF, "p", t0)
	v.Unforget(fnF, "p")
	if n := len(v.SpecializedOf(fnF)); n != 1 {
		t.Errorf("%d specialized after a failed deletion, want 1", n)
	}
}

func TestDeleteFunctionDropsPendingClaims(t *testing.T) {
	v := NewView(time.Minute)
	v.Claimed(fnF, Pod{Namespace: "ns", Name: "p", IP: "10.0.0.1"}, t0)
	v.Claimed(fnF, Pod{Namespace: "ns", Name: "q", IP: "10.0.0.2"}, t0)
	v.Forget(fnF, "q", t0)
	v.DeleteFunction(fnF)
	if n := len(v.SpecializedOf(fnF)); n != 0 {
		t.Errorf("%d pods of a deleted function", n)
	}
	if got := v.Sweep(t0.Add(time.Hour)); len(got) != 0 {
		t.Errorf("a deleted function's pods ended later: %v", kinds(got))
	}
}

func TestSweepEndsClaimsAndForgottenPodsNoStatusConfirmed(t *testing.T) {
	v := NewView(time.Minute)
	v.Claimed(fnF, Pod{Namespace: "ns", Name: "p", IP: "10.0.0.1"}, t0)
	v.Claimed(fnF, Pod{Namespace: "ns", Name: "q", IP: "10.0.0.2"}, t0)
	v.Forget(fnF, "q", t0)
	if got := v.Sweep(t0.Add(30 * time.Second)); len(got) != 0 {
		t.Fatalf("swept early: %v", kinds(got))
	}
	// The hand-over took a while: the wait starts again from it.
	v.HandedOver(fnF, "p", t0.Add(50*time.Second))
	if got := v.Sweep(t0.Add(70 * time.Second)); !slices.Equal(kinds(got), []string{"ended:q@10.0.0.2"}) {
		t.Fatalf("swept %v at 70 s, want only the forgotten pod", kinds(got))
	}
	if got := v.Sweep(t0.Add(2 * time.Minute)); !slices.Equal(kinds(got), []string{"ended:p@10.0.0.1"}) {
		t.Errorf("swept %v after the TTL", kinds(got))
	}
	if n := len(v.SpecializedOf(fnF)); n != 0 {
		t.Errorf("%d pods left", n)
	}
}

func TestAPodAFunctionListsLeavesTheIdleSet(t *testing.T) {
	v := NewView(time.Minute)
	v.SetIdle(poolA, faasv1.RuntimePython, listed("p1", "p2"))
	// Another replica handed p1 over; its pool's status still lists it.
	v.SetSpecialized(fnF, []faasv1.PoolPod{{Name: "p1", PodIP: "10.0.0.1", Ready: true}}, t0)
	if got := names(v.IdlePods()); !slices.Equal(got, []string{"p2"}) {
		t.Errorf("idle %v, want [p2]", got)
	}
	if got := v.SetIdle(poolA, faasv1.RuntimePython, listed("p1", "p2")); len(got) != 0 {
		t.Errorf("claimable again: %v", names(got))
	}
}

func TestStatusAddressesMustBeIPs(t *testing.T) {
	v := NewView(time.Minute)
	bad := []faasv1.PoolPod{
		{Name: "host", PodIP: "attacker.example.com", Ready: true},
		{Name: "port", PodIP: "10.0.0.1:22", Ready: true},
		{Name: "empty", Ready: true},
	}
	if got := v.SetIdle(poolA, faasv1.RuntimePython, bad); len(got) != 0 {
		t.Errorf("claimable with a bad address: %v", names(got))
	}
	if got := v.SetSpecialized(fnF, bad, t0); len(got) != 0 {
		t.Errorf("serving with a bad address: %v", kinds(got))
	}
	v6 := []faasv1.PoolPod{{Name: "v6", PodIP: "fd00::1", Ready: true}}
	if got := v.SetIdle(poolA, faasv1.RuntimePython, v6); len(got) != 1 {
		t.Errorf("an IPv6 pod is not claimable")
	}
}
