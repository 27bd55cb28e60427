package backends

import "sort"

// Addr is one address of an EndpointSlice.
type Addr struct {
	IP          string
	Ready       bool
	Terminating bool
}

// Kind is what happened to a function's backends.
type Kind int

const (
	// SliceChanged records one EndpointSlice's addresses (Addrs nil: it was deleted).
	SliceChanged Kind = iota
	// ProbeOK: the gateway's own probe found IP ready.
	ProbeOK
	// ProbeGaveUp: probing IP timed out; it is not probed again until the
	// cluster says something new of it.
	ProbeGaveUp
	// ProbeStopped: probing IP ended because it was no longer wanted.
	ProbeStopped
	// Specialized: a pool pod at IP was given the function by this replica
	// and serves it from now on, before any EndpointSlice lists it.
	Specialized
	// SpecializedElsewhere: another replica specialized IP for the function,
	// or it was labelled the function's; it serves once a probe confirms.
	SpecializedElsewhere
	// Retired: IP runs a specialization the function no longer has.
	Retired
	// Ended: the pod at IP is gone or terminating.
	Ended
	// ConnFailed: a connection to IP failed before a call was sent.
	ConnFailed
)

// Event is one input of State.Apply.
type Event struct {
	Kind  Kind
	IP    string
	Slice string
	Addrs []Addr
}

// State is what is known of a function's pods. The zero value is empty and
// ready to use; only Apply changes it.
type State struct {
	slices map[string][]Addr
	// probed are pods the gateway's probe found ready before the kubelet.
	probed map[string]bool
	// seenReady are pods the kubelet called ready once: its word decides
	// from then on.
	seenReady map[string]bool
	// probing are pods a probe runs for.
	probing map[string]bool
	// specialized are pool pods serving the function from their
	// specialization on; unconfirmed ones wait for a probe.
	specialized map[string]bool
	// retired never take calls again.
	retired map[string]bool
	// failed refused a connection: out of rotation until a probe, or the
	// kubelet's next ready, says they are back.
	failed map[string]bool
	// want are pods that should be probed, as of the last transition.
	want map[string]bool
	// gaveUp are pods whose probe timed out: not probed again until the
	// cluster says something new of them.
	gaveUp map[string]bool
}

// Result is what follows from a transition.
type Result struct {
	// Ready are the pods calls may go to, sorted.
	Ready []string
	// Probe are pods to start probing.
	Probe []string
}

func (s *State) init() {
	if s.slices != nil {
		return
	}
	s.slices, s.probed, s.seenReady, s.probing = map[string][]Addr{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	s.specialized, s.retired, s.failed, s.gaveUp = map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
}

// Apply records ev and returns the ready pods and those to probe.
func (s *State) Apply(ev Event) Result {
	s.init()
	switch ev.Kind {
	case SliceChanged:
		if ev.Addrs == nil {
			delete(s.slices, ev.Slice)
			break
		}
		for _, a := range ev.Addrs {
			delete(s.gaveUp, a.IP)
			if !a.Ready && !a.Terminating && s.seenReady[a.IP] {
				// The kubelet took back its ready (a restart, say): probe
				// again rather than wait for its next period.
				delete(s.seenReady, a.IP)
				delete(s.probed, a.IP)
				delete(s.failed, a.IP)
			}
		}
		s.slices[ev.Slice] = ev.Addrs
	case ProbeOK:
		delete(s.probing, ev.IP)
		delete(s.failed, ev.IP)
		if isKey(s.specialized, ev.IP) {
			s.specialized[ev.IP] = true
		} else if !s.seenReady[ev.IP] {
			s.probed[ev.IP] = true
		}
	case ProbeGaveUp:
		delete(s.probing, ev.IP)
		s.gaveUp[ev.IP] = true
	case ProbeStopped:
		delete(s.probing, ev.IP)
	case Specialized:
		if !s.retired[ev.IP] {
			s.specialized[ev.IP] = true
		}
	case SpecializedElsewhere:
		delete(s.gaveUp, ev.IP)
		if !isKey(s.specialized, ev.IP) && !s.retired[ev.IP] {
			s.specialized[ev.IP] = false
		}
	case Retired:
		s.retired[ev.IP] = true
		delete(s.specialized, ev.IP)
	case Ended:
		for _, m := range []map[string]bool{s.specialized, s.probed, s.failed, s.retired, s.seenReady, s.gaveUp} {
			delete(m, ev.IP)
		}
	case ConnFailed:
		delete(s.gaveUp, ev.IP)
		s.failed[ev.IP] = true
		delete(s.probed, ev.IP)
	}
	return s.derive()
}

// derive computes the ready set and the pods to probe.
func (s *State) derive() Result {
	var r Result
	present := map[string]bool{}
	terminating := map[string]bool{}
	ready := map[string]bool{}
	for _, addrs := range s.slices {
		for _, a := range addrs {
			present[a.IP] = true
			switch {
			case a.Terminating:
				terminating[a.IP] = true
			case a.Ready:
				s.seenReady[a.IP] = true
				ready[a.IP] = true
			case s.probed[a.IP]:
				ready[a.IP] = true
			}
		}
	}
	for ip, confirmed := range s.specialized {
		switch {
		case terminating[ip]:
			delete(s.specialized, ip)
		case confirmed:
			ready[ip] = true
		}
	}
	for ip := range ready {
		if s.retired[ip] || s.failed[ip] || terminating[ip] {
			delete(ready, ip)
		}
	}
	// Probe what is listed or specialized but not ready, and failed pods.
	s.want = map[string]bool{}
	for ip := range present {
		if !ready[ip] && !terminating[ip] && !s.retired[ip] {
			s.want[ip] = true
		}
	}
	for ip, confirmed := range s.specialized {
		if !confirmed || s.failed[ip] {
			s.want[ip] = true
		}
	}
	for ip := range s.want {
		if !s.probing[ip] && !s.gaveUp[ip] {
			s.probing[ip] = true
			r.Probe = append(r.Probe, ip)
		}
	}
	// Forget what no longer exists anywhere; retired pods are forgotten
	// only when they end.
	for _, m := range []map[string]bool{s.probed, s.seenReady, s.failed, s.gaveUp} {
		for ip := range m {
			if !present[ip] && !isKey(s.specialized, ip) {
				delete(m, ip)
			}
		}
	}
	for ip := range ready {
		r.Ready = append(r.Ready, ip)
	}
	sort.Strings(r.Ready)
	sort.Strings(r.Probe)
	return r
}

func isKey(m map[string]bool, k string) bool {
	_, ok := m[k]
	return ok
}

// Wanted tells whether ip should still be probed: known, and not ready.
func (s *State) Wanted(ip string) bool {
	return s.want[ip]
}
