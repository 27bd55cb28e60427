package podlogs

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Follow streams the logs of every pod in namespace that selector matches
// until ctx ends, then waits for its streams to stop and returns nil.
// Pods present when it starts are printed with o's Since and Tail; pods
// that appear later, and containers that restart, from their first line.
// Notes (a stream that failed) go to errOut.
func Follow(ctx context.Context, cs kubernetes.Interface, namespace, selector string, o Options, out, errOut io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &follower{ctx: ctx, cs: cs, opts: o, lw: &lineWriter{w: out}, errOut: errOut, streams: map[types.UID]*stream{}}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) { lo.LabelSelector = selector }))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    func(obj any, initial bool) { f.update(obj, initial) },
		UpdateFunc: func(_, obj any) { f.update(obj, false) },
		DeleteFunc: f.remove,
	}); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	// A watch the API server refuses (no right to watch pods, say) ends
	// the follow with that error instead of retrying in silence.
	var watchErr error
	var once sync.Once
	_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			once.Do(func() { watchErr = fmt.Errorf("watch pods: %w", err); cancel() })
		}
	})
	factory.Start(ctx.Done())
	if factory.WaitForCacheSync(ctx.Done()); ctx.Err() == nil && o.Following != nil {
		o.Following()
	}
	<-ctx.Done()
	factory.Shutdown()
	f.wg.Wait()
	return watchErr
}

// follower holds one stream per pod.
type follower struct {
	ctx    context.Context
	cs     kubernetes.Interface
	opts   Options
	lw     *lineWriter
	errOut io.Writer
	wg     sync.WaitGroup

	mu      sync.Mutex // guards streams and every stream's fields
	streams map[types.UID]*stream
}

// stream is the log stream of one pod's container.
type stream struct {
	// ctx ends when the pod is gone.
	ctx    context.Context
	cancel context.CancelFunc
	// initial: the pod was there when following began.
	initial bool
	// started: a stream was started; active: one runs now; restarts: the
	// container's restart count when it was started; retry: it ended
	// without a line (the container could not give its log yet), so the
	// next event of the pod may start it again.
	started, active, retry bool
	restarts               int32
}

func (f *follower) update(obj any, initial bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	cs := containerStatus(pod, f.opts.Container)
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.streams[pod.UID]
	if s == nil {
		ctx, cancel := context.WithCancel(f.ctx)
		s = &stream{ctx: ctx, cancel: cancel, initial: initial}
		f.streams[pod.UID] = s
	}
	if s.active || !started(cs) {
		return
	}
	// Start a first stream, one of a new container after a restart, or
	// another try of one that got nothing.
	if s.started && cs.RestartCount <= s.restarts && !s.retry {
		return
	}
	// Only the first stream of a pod that was there at the start honours
	// --since and --tail; everything after that is new.
	opts := f.opts.logOptions(true, s.initial && !s.started)
	s.started, s.active, s.retry, s.restarts = true, true, false, cs.RestartCount
	f.wg.Add(1)
	go f.run(s, pod.Namespace, pod.Name, opts)
}

// run streams one container's log until it ends or the pod is gone. A
// stream that breaks after it gave lines (a connection reset, the API
// server's own timeout) is opened again from the moment it broke.
func (f *follower) run(s *stream, namespace, name string, opts *corev1.PodLogOptions) {
	defer f.wg.Done()
	total := 0
	for {
		n := 0
		rc, err := f.cs.CoreV1().Pods(namespace).GetLogs(name, opts).Stream(s.ctx)
		if err == nil {
			n, err = f.lw.copyLines(name, rc)
			rc.Close()
		}
		total += n
		if err == nil || s.ctx.Err() != nil || n == 0 {
			break
		}
		broke := metav1.Now()
		fmt.Fprintf(f.errOut, "pod %s: log stream broke (%v); reconnecting\n", name, err)
		select {
		case <-s.ctx.Done():
		case <-time.After(f.opts.reconnectDelay()):
		}
		opts = &corev1.PodLogOptions{Container: opts.Container, Follow: opts.Follow, SinceTime: &broke}
	}
	f.mu.Lock()
	s.active = false
	s.retry = total == 0 && s.ctx.Err() == nil
	f.mu.Unlock()
}

func (f *follower) remove(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.streams[pod.UID]; s != nil {
		s.cancel()
		delete(f.streams, pod.UID)
	}
}
