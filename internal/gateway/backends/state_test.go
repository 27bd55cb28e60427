package backends

import (
	"fmt"
	"slices"
	"testing"
)

// Event builders for the table.
func slice(name string, addrs ...Addr) Event {
	if addrs == nil {
		addrs = []Addr{}
	}
	return Event{Kind: SliceChanged, Slice: name, Addrs: addrs}
}
func sliceDeleted(name string) Event { return Event{Kind: SliceChanged, Slice: name} }
func ready(ip string) Addr           { return Addr{IP: ip, Ready: true} }
func notReady(ip string) Addr        { return Addr{IP: ip} }
func terminating(ip string) Addr     { return Addr{IP: ip, Terminating: true} }
func probeOK(ip string) Event        { return Event{Kind: ProbeOK, IP: ip} }
func gaveUp(ip string) Event         { return Event{Kind: ProbeGaveUp, IP: ip} }
func specialized(ip string) Event    { return Event{Kind: Specialized, IP: ip} }
func elsewhere(ip string) Event      { return Event{Kind: SpecializedElsewhere, IP: ip} }
func retired(ip string) Event        { return Event{Kind: Retired, IP: ip} }
func ended(ip string) Event          { return Event{Kind: Ended, IP: ip} }
func connFailed(ip string) Event     { return Event{Kind: ConnFailed, IP: ip} }
func ips(s ...string) []string       { return s }
func same(got, want []string) bool {
	return slices.Equal(got, want) || (len(got) == 0 && len(want) == 0)
}
func wantedSet(s *State, ip string) bool { return s.Wanted(ip) }

// describe prints an event for failure messages.
func describe(e Event) string {
	if e.Kind == SliceChanged {
		return fmt.Sprintf("SliceChanged(%s %+v)", e.Slice, e.Addrs)
	}
	return fmt.Sprintf("%s(%s)", kindNames[e.Kind], e.IP)
}

var kindNames = map[Kind]string{
	SliceChanged: "SliceChanged", ProbeOK: "ProbeOK", ProbeGaveUp: "ProbeGaveUp", Specialized: "Specialized",
	SpecializedElsewhere: "SpecializedElsewhere", Retired: "Retired", Ended: "Ended", ConnFailed: "ConnFailed",
}

// step is one event and what must follow from it.
type step struct {
	ev           Event
	ready, probe []string
}

func TestStateTransitions(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{"slice ready", []step{
			{slice("s1", ready("a")), ips("a"), nil},
		}},
		{"slice not ready is probed", []step{
			{slice("s1", notReady("a")), nil, ips("a")},
		}},
		{"slice terminating is neither ready nor probed", []step{
			{slice("s1", terminating("a")), nil, nil},
		}},
		{"mixed slice", []step{
			{slice("s1", ready("c"), notReady("b"), terminating("d"), ready("a")), ips("a", "c"), ips("b")},
		}},
		{"probe ok before the kubelet, then the kubelet says ready", []step{
			{slice("s1", notReady("a")), nil, ips("a")},
			{probeOK("a"), ips("a"), nil},
			{slice("s1", notReady("a")), ips("a"), nil},
			{slice("s1", ready("a")), ips("a"), nil},
		}},
		{"kubelet takes its ready back (restart): probed again", []step{
			{slice("s1", ready("a")), ips("a"), nil},
			{slice("s1", notReady("a")), nil, ips("a")},
			{probeOK("a"), ips("a"), nil},
			{slice("s1", ready("a")), ips("a"), nil},
		}},
		{"ready early, then ready, then a restart forgets the early probe", []step{
			{slice("s1", notReady("a")), nil, ips("a")},
			{probeOK("a"), ips("a"), nil},
			{slice("s1", ready("a")), ips("a"), nil},
			{slice("s1", notReady("a")), nil, ips("a")},
		}},
		{"terminating after ready", []step{
			{slice("s1", ready("a")), ips("a"), nil},
			{slice("s1", terminating("a")), nil, nil},
		}},
		{"terminating after an early probe", []step{
			{slice("s1", notReady("a")), nil, ips("a")},
			{probeOK("a"), ips("a"), nil},
			{slice("s1", terminating("a")), nil, nil},
		}},
		{"a probe is not asked for again while one runs", []step{
			{slice("s1", notReady("a")), nil, ips("a")},
			{slice("s1", notReady("a"), notReady("b")), nil, ips("b")},
			{slice("s1", notReady("a"), notReady("b")), nil, nil},
			{connFailed("a"), nil, nil},
		}},
		{"a probe that gave up is not asked for again until the cluster says something new", []step{
			{slice("s1", notReady("a")), nil, ips("a")},
			{gaveUp("a"), nil, nil},
			{slice("s2", notReady("b")), nil, ips("b")},
			{slice("s1", notReady("a")), nil, ips("a")},
			{gaveUp("a"), nil, nil},
			{connFailed("a"), nil, ips("a")},
			{gaveUp("a"), nil, nil},
			{ended("a"), nil, ips("a")},
		}},
		{"a probe that gave up is not asked for again when no longer wanted", []step{
			{slice("s1", notReady("a")), nil, ips("a")},
			{slice("s1", ready("a")), ips("a"), nil},
			{gaveUp("a"), ips("a"), nil},
			{slice("s1", notReady("a")), nil, ips("a")},
		}},
		{"a probe still running when its pod needs one again is not doubled", []step{
			{slice("s1", notReady("a")), nil, ips("a")},
			{slice("s1", ready("a")), ips("a"), nil},
			{slice("s1", notReady("a")), nil, nil},
			{gaveUp("a"), nil, nil},
			{slice("s1", notReady("a")), nil, ips("a")},
		}},
		{"a conn failure takes a ready pod out and probes it; ProbeOK brings it back", []step{
			{slice("s1", ready("a"), ready("b")), ips("a", "b"), nil},
			{connFailed("a"), ips("b"), ips("a")},
			{slice("s1", ready("a"), ready("b")), ips("b"), nil},
			{probeOK("a"), ips("a", "b"), nil},
		}},
		{"a failed pod comes back when the kubelet flips it not ready then ready", []step{
			{slice("s1", ready("a")), ips("a"), nil},
			{connFailed("a"), nil, ips("a")},
			{slice("s1", notReady("a")), nil, nil},
			{slice("s1", ready("a")), ips("a"), nil},
		}},
		{"a failed pod that was ready early needs a new probe", []step{
			{slice("s1", notReady("a")), nil, ips("a")},
			{probeOK("a"), ips("a"), nil},
			{connFailed("a"), nil, ips("a")},
			{probeOK("a"), ips("a"), nil},
		}},
		{"a failed pod whose probe gave up waits for the slice to say something", []step{
			{slice("s1", ready("a")), ips("a"), nil},
			{connFailed("a"), nil, ips("a")},
			{gaveUp("a"), nil, nil},
			{slice("s1", ready("a")), nil, ips("a")},
			{probeOK("a"), ips("a"), nil},
		}},
		{"a conn failure of an unknown pod is forgotten", []step{
			{connFailed("x"), nil, nil},
			{slice("s1", ready("x")), ips("x"), nil},
		}},
		{"a failed pod that leaves every slice is forgotten", []step{
			{slice("s1", ready("a")), ips("a"), nil},
			{connFailed("a"), nil, ips("a")},
			{sliceDeleted("s1"), nil, nil},
			{gaveUp("a"), nil, nil},
			{slice("s1", ready("a")), ips("a"), nil},
		}},
		{"an early probe is forgotten when the pod leaves every slice", []step{
			{slice("s1", notReady("a")), nil, ips("a")},
			{probeOK("a"), ips("a"), nil},
			{sliceDeleted("s1"), nil, nil},
			{slice("s1", notReady("a")), nil, ips("a")},
		}},
		{"specialized here: ready at once, before any slice", []step{
			{specialized("p"), ips("p"), nil},
			{slice("s1", notReady("p")), ips("p"), nil},
			{slice("s1", ready("p")), ips("p"), nil},
			{sliceDeleted("s1"), ips("p"), nil},
		}},
		{"specialized elsewhere: ready only after a probe", []step{
			{elsewhere("p"), nil, ips("p")},
			{elsewhere("p"), nil, nil},
			{probeOK("p"), ips("p"), nil},
		}},
		{"specialized elsewhere, probe gave up: probed again once listed", []step{
			{elsewhere("p"), nil, ips("p")},
			{gaveUp("p"), nil, nil},
			{slice("s1", notReady("p")), nil, ips("p")},
			{probeOK("p"), ips("p"), nil},
		}},
		{"specialized elsewhere does not unconfirm a pod specialized here", []step{
			{specialized("p"), ips("p"), nil},
			{elsewhere("p"), ips("p"), nil},
		}},
		{"specialized here confirms a pod specialized elsewhere", []step{
			{elsewhere("p"), nil, ips("p")},
			{specialized("p"), ips("p"), nil},
			{probeOK("p"), ips("p"), nil},
		}},
		{"specialized elsewhere, listed ready by the kubelet", []step{
			{elsewhere("p"), nil, ips("p")},
			{slice("s1", ready("p")), ips("p"), nil},
		}},
		{"a specialized pod whose connection failed waits for a probe", []step{
			{specialized("p"), ips("p"), nil},
			{connFailed("p"), nil, ips("p")},
			{probeOK("p"), ips("p"), nil},
		}},
		{"retired: never ready again, even listed ready, until it ended", []step{
			{slice("s1", ready("p")), ips("p"), nil},
			{retired("p"), nil, nil},
			{slice("s1", ready("p")), nil, nil},
			{slice("s1", notReady("p")), nil, nil},
			{specialized("p"), nil, nil},
			{elsewhere("p"), nil, nil},
			{probeOK("p"), nil, nil},
			{slice("s1", ready("p")), nil, nil},
			{ended("p"), ips("p"), nil},
		}},
		{"retired specialized pod", []step{
			{specialized("p"), ips("p"), nil},
			{retired("p"), nil, nil},
			{specialized("p"), nil, nil},
			{connFailed("p"), nil, nil},
			{sliceDeleted("s1"), nil, nil},
		}},
		{"retired while specialized elsewhere and being probed", []step{
			{elsewhere("p"), nil, ips("p")},
			{retired("p"), nil, nil},
			{probeOK("p"), nil, nil},
		}},
		{"ended forgets a specialization", []step{
			{specialized("p"), ips("p"), nil},
			{ended("p"), nil, nil},
			{elsewhere("p"), nil, ips("p")},
		}},
		{"ended forgets an early probe", []step{
			{slice("s1", notReady("a")), nil, ips("a")},
			{probeOK("a"), ips("a"), nil},
			{ended("a"), nil, ips("a")},
		}},
		{"a terminating specialized pod is dropped", []step{
			{specialized("p"), ips("p"), nil},
			{slice("s1", terminating("p")), nil, nil},
			{sliceDeleted("s1"), nil, nil},
		}},
		{"slice deletion", []step{
			{slice("s1", ready("a")), ips("a"), nil},
			{slice("s2", ready("b")), ips("a", "b"), nil},
			{sliceDeleted("s1"), ips("b"), nil},
			{sliceDeleted("s1"), ips("b"), nil},
			{sliceDeleted("s2"), nil, nil},
		}},
		{"an emptied slice", []step{
			{slice("s1", ready("a")), ips("a"), nil},
			{slice("s1"), nil, nil},
		}},
		{"duplicates across two slices", []step{
			{slice("s1", ready("a")), ips("a"), nil},
			{slice("s2", ready("a")), ips("a"), nil},
			{sliceDeleted("s1"), ips("a"), nil},
			{slice("s1", notReady("a")), ips("a"), nil},
			{sliceDeleted("s2"), nil, ips("a")},
		}},
		{"duplicate terminating in one slice wins", []step{
			{slice("s1", ready("a")), ips("a"), nil},
			{slice("s2", terminating("a")), nil, nil},
			{sliceDeleted("s2"), ips("a"), nil},
		}},
		{"probe ok of an unknown pod does not make it ready", []step{
			{probeOK("x"), nil, nil},
			{slice("s1", notReady("x")), nil, ips("x")},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			for i, st := range tc.steps {
				r := s.Apply(st.ev)
				if !same(r.Ready, st.ready) || !same(r.Probe, st.probe) {
					t.Fatalf("step %d %s: Ready %v Probe %v, want Ready %v Probe %v", i, describe(st.ev), r.Ready, r.Probe, st.ready, st.probe)
				}
			}
		})
	}
}

func TestWanted(t *testing.T) {
	var s State
	if wantedSet(&s, "a") {
		t.Fatal("the zero State wants a probe")
	}
	cases := []struct {
		ev     Event
		wanted map[string]bool
	}{
		{slice("s1", notReady("a"), ready("b"), terminating("c")), map[string]bool{"a": true}},
		{elsewhere("p"), map[string]bool{"a": true, "p": true}},
		{probeOK("a"), map[string]bool{"p": true}},
		{connFailed("b"), map[string]bool{"b": true, "p": true}},
		{retired("p"), map[string]bool{"b": true}},
		{sliceDeleted("s1"), map[string]bool{}},
	}
	for i, tc := range cases {
		s.Apply(tc.ev)
		for _, ip := range []string{"a", "b", "c", "p"} {
			if got := wantedSet(&s, ip); got != tc.wanted[ip] {
				t.Errorf("step %d %s: Wanted(%s) = %v, want %v", i, describe(tc.ev), ip, got, tc.wanted[ip])
			}
		}
	}
}

func TestResultIsSorted(t *testing.T) {
	var s State
	r := s.Apply(slice("s1", ready("10.0.0.9"), notReady("10.0.0.3"), ready("10.0.0.1"), notReady("10.0.0.2")))
	if !slices.IsSorted(r.Ready) || !slices.IsSorted(r.Probe) || len(r.Ready) != 2 || len(r.Probe) != 2 {
		t.Fatalf("Result = %+v, want two sorted ready and two sorted to probe", r)
	}
}
