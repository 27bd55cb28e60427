package portforward

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Forward is an open port-forward; Close ends it.
type Forward struct {
	// LocalPort is the port on 127.0.0.1 that reaches the pod.
	LocalPort uint16
	// Pod is the pod it forwards to.
	Pod string

	stop chan struct{}
	// done receives ForwardPorts' result once; Close drains it once.
	done      chan error
	stopOnce  sync.Once
	closeOnce sync.Once
}

// Open resolves t and forwards a free port on 127.0.0.1 to it until Close
// or until ctx ends.
func Open(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, t Target) (*Forward, error) {
	ep, err := Resolve(ctx, cs, t)
	if err != nil {
		return nil, err
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward transport: %w", err)
	}
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(t.Namespace).Name(ep.Pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	f := &Forward{Pod: ep.Pod, stop: make(chan struct{}), done: make(chan error, 1)}
	ready := make(chan struct{})
	// Port 0: the kernel picks a free local port, read back once ready.
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(int(ep.Port))},
		f.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", t.Namespace, ep.Pod, err)
	}
	go func() { f.done <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-f.done:
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", t.Namespace, ep.Pod, err)
	case <-ctx.Done():
		f.Close()
		return nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s: no local port: %v", t.Namespace, ep.Pod, err)
	}
	f.LocalPort = ports[0].Local
	context.AfterFunc(ctx, f.Close)
	return f, nil
}

// Close stops forwarding and waits until the listener is closed. It may
// be called more than once.
func (f *Forward) Close() {
	f.stopOnce.Do(func() { close(f.stop) })
	f.closeOnce.Do(func() { <-f.done })
}
