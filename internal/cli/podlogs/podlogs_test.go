package podlogs

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func TestCopyLinesPrefixesEveryLine(t *testing.T) {
	var b bytes.Buffer
	lw := &lineWriter{w: &b}
	n, err := lw.copyLines("pod-a", strings.NewReader("one\ntwo\n\nlast without newline"))
	if err != nil || n != 4 {
		t.Fatalf("copyLines = %d, %v", n, err)
	}
	want := "[pod-a] one\n[pod-a] two\n[pod-a] \n[pod-a] last without newline\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestLogOptions(t *testing.T) {
	o := Options{Container: "runner", Since: 90 * time.Second, Tail: 5}
	first := o.logOptions(true, true)
	if !first.Follow || *first.SinceSeconds != 90 || *first.TailLines != 5 || first.Container != "runner" {
		t.Errorf("initial = %+v", first)
	}
	later := o.logOptions(true, false)
	if later.SinceSeconds != nil || later.TailLines != nil {
		t.Errorf("a pod that appears later must be followed from its first line: %+v", later)
	}
	if all := (Options{Tail: -1}).logOptions(false, true); all.TailLines != nil || all.SinceSeconds != nil {
		t.Errorf("no limits = %+v", all)
	}
}

func pod(name string, running bool, restarts int32) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name),
		Labels: map[string]string{"fn": "hello"}}}
	cs := corev1.ContainerStatus{Name: "runner", RestartCount: restarts}
	if running {
		cs.State.Running = &corev1.ContainerStateRunning{}
	} else {
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
	return p
}

// syncBuffer is a bytes.Buffer safe for the follower's writers and the
// test's reader, which it wakes on every write.
type syncBuffer struct {
	mu      sync.Mutex // guards b and changed
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
	return s.b.Write(p)
}

// snapshot returns the contents and a channel closed at the next write.
func (s *syncBuffer) snapshot() (string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.changed
}

func (s *syncBuffer) String() string {
	str, _ := s.snapshot()
	return str
}

// TestFollowStreamsPodsAsTheyCome: a pod there at the start and one that
// appears later are both streamed (the fake answers every log request
// with "fake logs" and ends it); a pod of another function is not; a pod
// whose container has not started is streamed once it has, and a
// restarted container again.
func TestFollowStreamsPodsAsTheyCome(t *testing.T) {
	cs := fake.NewClientset(pod("a", true, 0), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "other", UID: "other"}})
	out, errOut := newSyncBuffer(), newSyncBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Follow(ctx, cs, "ns", "fn=hello", Options{Container: "runner", Tail: 10}, out, errOut)
	}()
	waitFor(t, out, "[a] fake logs\n")

	pods := cs.CoreV1().Pods("ns")
	if _, err := pods.Create(ctx, pod("b", false, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Update(ctx, pod("b", true, 0), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "[b] fake logs\n")
	if _, err := pods.Update(ctx, pod("b", true, 1), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "[b] fake logs\n[b] fake logs\n")
	if err := pods.Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "[other]") {
		t.Errorf("followed a pod the selector does not match:\n%s", out)
	}
	if strings.Count(out.String(), "[a] fake logs") != 1 {
		t.Errorf("pod a streamed more than once:\n%s", out)
	}
}

// waitFor waits, on writes, until b contains want.
func waitFor(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		got, changed := b.snapshot()
		if strings.Contains(got, want) {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("output never contained %q:\n%s", want, got)
		}
	}
}
