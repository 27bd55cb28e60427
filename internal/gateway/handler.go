package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

var _ http.Handler = (*Gateway)(nil)

// ServeHTTP answers one call to /invoke/<name>[.<namespace>][/<rest>].
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	inv, err := parseInvokePath(r.URL.EscapedPath(), g.cfg.DefaultNamespace)
	if err != nil {
		g.count("", writeError(w, "", err), start)
		return
	}
	name := inv.fn.String()
	f := g.lookup(inv.fn)
	if f == nil {
		g.count("", writeError(w, name, fmt.Errorf("%w: no Function %s", ErrNotFound, name)), start)
		return
	}
	if r.ContentLength > g.cfg.MaxBodyBytes {
		g.count(name, writeError(w, name, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBodyTooLarge, r.ContentLength, g.cfg.MaxBodyBytes)), start)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes)

	p, err := g.acquire(r.Context(), f, name, start)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			g.count(name, 499, start) // the caller went away while waiting
			return
		}
		g.count(name, writeError(w, name, err), start)
		return
	}
	defer func() { f.release(p, g.now()) }()

	ctx, cancel := context.WithTimeout(r.Context(), f.info.Load().CallTimeout+5*time.Second)
	defer cancel()
	var proxyErr error
	t := &target{function: name, addr: p.addr, path: inv.path, rawPath: inv.rawPath, err: &proxyErr}
	rec := &statusRecorder{ResponseWriter: w}
	g.proxy.ServeHTTP(rec, r.WithContext(withTarget(ctx, t)))
	if proxyErr != nil {
		if rec.status != 0 {
			// The answer had started; all that can be done is to stop.
			g.log.Error(proxyErr, "Call failed after its answer started", "function", name, "pod", p.ip)
			g.count(name, rec.status, start)
			return
		}
		err := proxyError(proxyErr)
		if r.Context().Err() != nil {
			g.count(name, 499, start)
			return
		}
		g.log.Error(proxyErr, "Call to function pod failed", "function", name, "pod", p.ip)
		g.count(name, writeError(w, name, err), start)
		return
	}
	g.count(name, rec.status, start)
}

// acquire holds the call until a pod of f has a free slot, within the hold
// timeout, and records cold starts.
func (g *Gateway) acquire(ctx context.Context, f *function, name string, start time.Time) (*pod, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.HoldTimeout)
	defer cancel()
	waiting := g.metrics.waiting.WithLabelValues(name)
	waiting.Inc()
	p, cold, err := f.acquire(ctx, g.cfg.MaxWaiting, g.now, g.requestScaleUp)
	waiting.Dec()
	if cold {
		path := "deployment"
		if p != nil && p.fromPool {
			path = "pool"
		}
		g.metrics.coldStarts.WithLabelValues(name, path).Inc()
		if err == nil {
			g.metrics.coldStartLatency.WithLabelValues(name, path).Observe(g.now().Sub(start).Seconds())
		}
	}
	return p, err
}

func (g *Gateway) count(function string, status int, start time.Time) {
	if function == "" {
		function = "<none>"
	}
	g.metrics.calls.WithLabelValues(function, strconv.Itoa(status)).Inc()
	g.metrics.callDuration.WithLabelValues(function).Observe(g.now().Sub(start).Seconds())
}

// statusRecorder remembers the status a call was answered with; Unwrap
// lets the proxy flush through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
