package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"time"

	"github.com/go-logr/logr"
)

// ForwardConfig bounds forwarding.
type ForwardConfig struct {
	// HoldTimeout bounds each wait for another pod after a connection
	// failure; MaxAttempts bounds the pods one call is tried on.
	HoldTimeout time.Duration
	MaxAttempts int
	// DeadlineGrace is added to the function's timeout for the call's read
	// and write deadlines: a caller that does not send its body or read its
	// answer cannot keep a pod's slot longer.
	DeadlineGrace time.Duration
}

type forwardMW struct {
	proxy *httputil.ReverseProxy
	cfg   ForwardConfig
	log   logr.Logger
}

var _ http.Handler = (*forwardMW)(nil)

// NewForward sends the call to its slot's pod with a shared ReverseProxy:
// keep-alive connections, streamed answers, X-Forwarded-* set and hop-by-hop
// headers dropped. A call whose connection failed before anything was sent
// is tried again on another pod (see retryTransport); transport errors are
// answered as JSON.
func NewForward(transport http.RoundTripper, cfg ForwardConfig, log logr.Logger) http.Handler {
	h := &forwardMW{cfg: cfg, log: log}
	h.proxy = &httputil.ReverseProxy{
		Rewrite:   rewrite,
		Transport: &retryTransport{base: transport, cfg: cfg},
		// An answer of unknown length (chunked, a stream) or an event
		// stream is flushed at each write anyway (ReverseProxy overrides
		// this interval for them). A runner sends Content-Length only for a
		// body it has whole, so buffering those answers costs no latency,
		// and saves a timer, a goroutine and one or two writes a call: -1
		// flushed the headers on their own from a timer, then the body.
		FlushInterval: 0,
		BufferPool:    newBufferPool(),
		ErrorHandler: func(_ http.ResponseWriter, r *http.Request, err error) {
			CallOf(r).Err = err
		},
	}
	return h
}

// FunctionHeader names the function a pod is called for.
const FunctionHeader = "X-Faas-Function"

func rewrite(pr *httputil.ProxyRequest) {
	c := CallOf(pr.In)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = c.Slot.Pod.Addr
	pr.Out.URL.Path, pr.Out.URL.RawPath = c.Path, c.RawPath
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	pr.Out.Host = c.Slot.Pod.Addr
	pr.SetXForwarded()
	pr.Out.Header.Set(FunctionHeader, c.Function)
}

func (h *forwardMW) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallOf(r)
	deadline := time.Now().Add(c.Target.CallTimeout() + h.cfg.DeadlineGrace)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(deadline)
	_ = rc.SetReadDeadline(deadline)
	ctx, cancel := context.WithDeadline(r.Context(), deadline)
	defer cancel()
	// The trace is the call's, set here once rather than by retryTransport
	// on a clone of the request for every call.
	c.trace.WroteHeaders = c.wroteHeaders
	ctx = httptrace.WithClientTrace(ctx, &c.trace)
	h.proxy.ServeHTTP(w, r.WithContext(ctx))
	if c.Err == nil {
		return
	}
	if started(w) {
		// The answer had begun; all that can be done is to stop.
		h.log.V(1).Info("Call failed after its answer started", "function", c.Function, "pod", c.Slot.Pod.IP, "error", c.Err.Error())
		return
	}
	if r.Context().Err() != nil {
		return
	}
	h.log.Info("Call to function pod failed", "function", c.Function, "pod", c.Slot.Pod.IP, "error", c.Err.Error())
	WriteError(w, c.Function, proxyError(c.Err))
}

// proxyError turns a transport error into the call path's sentinels.
func proxyError(err error) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errors.Join(ErrBodyTooLarge, err)
	case errors.Is(err, context.DeadlineExceeded):
		return errors.Join(ErrCallTimeout, err)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnavailable), errors.Is(err, ErrColdStartTimeout), errors.Is(err, ErrBadRequestBody):
		return err
	default:
		return errors.Join(ErrUpstream, err)
	}
}

// retryTransport tries a call on another pod only when no attempt wrote any
// of it: the dial failed (refused, unreachable, timed out) and no earlier
// attempt of the call got as far as writing its headers (an httptrace hook
// says so), nor read a byte of its body. net/http itself also retries on
// the same pod in two cases it knows are safe: a kept-alive connection the
// pod closed before anything was written (GetBody is set for that, and
// refuses once the body was read), and, for GET, HEAD, OPTIONS and TRACE
// only (idempotent by RFC 9110), a kept-alive connection the pod closed
// before answering.
//
// Anything else (a reset after the request was written, a timeout waiting
// for the answer) may have run the function, and is answered as an error.
// The failing pod leaves rotation until a probe or the kubelet says it is
// back.
type retryTransport struct {
	base http.RoundTripper
	cfg  ForwardConfig
}

// RoundTrip changes out in place instead of cloning it again: out is the
// ReverseProxy's own copy of the call's request, made for this RoundTrip
// and used by nothing else while it runs. The WroteHeaders hook is the
// call's trace, set by forwardMW.
func (t *retryTransport) RoundTrip(out *http.Request) (*http.Response, error) {
	c := CallOf(out)
	var body *onceBody
	if out.Body != nil && out.Body != http.NoBody {
		body = &onceBody{rc: out.Body}
		out.Body = body
	}
	// With GetBody set, net/http retries a reused connection closed before
	// the request was written; it calls GetBody only if the body was read,
	// and then it must not be sent again.
	out.GetBody = bodySent
	for attempt := 1; ; attempt++ {
		resp, err := t.base.RoundTrip(out)
		if err != nil && body != nil && body.err != nil {
			return nil, callerBodyError(body.err)
		}
		if err == nil || !dialFailed(err) || c.wrote.Load() || (body != nil && body.read) || attempt >= t.cfg.MaxAttempts {
			return resp, err
		}
		c.Target.ConnFailed(c.Slot.Pod.IP)
		c.Target.Release(c.Slot)
		c.held = false
		slot, _, aerr := acquire(out.Context(), c.Target, t.cfg.HoldTimeout)
		if aerr != nil {
			return nil, holdError(c, aerr)
		}
		c.Slot, c.held = slot, true
		out.URL.Host, out.Host = slot.Pod.Addr, slot.Pod.Addr
	}
}

var errBodySent = errors.New("request body already sent; not retried")

func bodySent() (io.ReadCloser, error) { return nil, errBodySent }

// callerBodyError is the error of a body the caller sent wrong.
func callerBodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrBadRequestBody, err)
}

// dialFailed tells whether err is a failed dial: nothing was sent.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// onceBody lets the request body outlive a failed attempt: the transport
// closes the body it was given, but the caller's stays open for the next.
// It also keeps the caller's own reading error (a malformed chunk, say), so
// the call is answered 400, not blamed on the pod.
type onceBody struct {
	rc   io.ReadCloser
	read bool
	err  error
}

func (b *onceBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.read = true
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *onceBody) Close() error { return nil }
