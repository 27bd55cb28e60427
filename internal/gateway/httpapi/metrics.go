package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CallMetrics are the call path's Prometheus series.
type CallMetrics struct {
	Calls        *prometheus.CounterVec
	CallDuration *prometheus.HistogramVec
}

// NewCallMetrics makes the series; the caller registers them.
func NewCallMetrics() CallMetrics {
	return CallMetrics{
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faas_gateway_calls_total", Help: "Calls answered, by function and HTTP status code.",
		}, []string{"function", "code"}),
		CallDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faas_gateway_call_duration_seconds", Help: "Time from a call's arrival to its answer, by function.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"function"}),
	}
}

// Forget removes a deleted function's series.
func (m CallMetrics) Forget(function string) {
	m.Calls.DeletePartialMatch(prometheus.Labels{"function": function})
	m.CallDuration.DeletePartialMatch(prometheus.Labels{"function": function})
}

// StatusClientClosed is counted for a call whose caller went away first.
const StatusClientClosed = 499

type metricsMW struct {
	next http.Handler
	m    CallMetrics
	now  func() time.Time
}

var _ http.Handler = (*metricsMW)(nil)

// NewMetrics starts every call's Call and counts its answer by function and
// status. Calls not routed to a known function are counted as "<none>" so
// hostile paths cannot grow the series.
func NewMetrics(next http.Handler, m CallMetrics, now func() time.Time) http.Handler {
	return &metricsMW{next: next, m: m, now: now}
}

func (h *metricsMW) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &Call{Start: h.now()}
	c.rec.ResponseWriter = w
	h.next.ServeHTTP(&c.rec, withCall(r, c))
	status := c.rec.status
	if r.Context().Err() != nil && status == 0 {
		status = StatusClientClosed
	}
	fn := c.Function
	if c.Target == nil {
		fn = "<none>"
	}
	h.m.Calls.WithLabelValues(fn, strconv.Itoa(status)).Inc()
	h.m.CallDuration.WithLabelValues(fn).Observe(h.now().Sub(c.Start).Seconds())
}

// statusRecorder remembers the status a call was answered with; Unwrap
// lets http.ResponseController reach the connection through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
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

// started tells whether w's answer has begun.
func started(w http.ResponseWriter) bool {
	for {
		switch x := w.(type) {
		case *statusRecorder:
			return x.status != 0
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return false
		}
	}
}
