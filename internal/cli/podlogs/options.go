package podlogs

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Options choose what to print of each pod's log.
type Options struct {
	// Container is the container whose log is printed.
	Container string
	// Since, when not zero, skips lines older than this.
	Since time.Duration
	// Tail, when not negative, prints only the last Tail lines.
	Tail int64
	// Following, if set, is called by Follow once it knows every pod the
	// selector matches: from then on, no new pod is missed.
	Following func()
	// ReconnectDelay is the pause before a stream that broke is opened
	// again; a second when zero.
	ReconnectDelay time.Duration
}

// reconnectDelay is the pause before a broken stream is opened again.
func (o Options) reconnectDelay() time.Duration {
	if o.ReconnectDelay > 0 {
		return o.ReconnectDelay
	}
	return time.Second
}

// logOptions are the API's options for a pod known when printing began
// (initial) or one that appeared later, whose whole log is new.
func (o Options) logOptions(follow, initial bool) *corev1.PodLogOptions {
	lo := &corev1.PodLogOptions{Container: o.Container, Follow: follow}
	if !initial {
		return lo
	}
	if o.Since > 0 {
		s := int64(o.Since.Round(time.Second) / time.Second)
		lo.SinceSeconds = &s
	}
	if o.Tail >= 0 {
		t := o.Tail
		lo.TailLines = &t
	}
	return lo
}

// containerStatus is the status of the container named name, or nil.
func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == name {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// started tells whether the container has a log to read: it runs or ran.
func started(cs *corev1.ContainerStatus) bool {
	return cs != nil && (cs.State.Running != nil || cs.State.Terminated != nil || cs.RestartCount > 0)
}
