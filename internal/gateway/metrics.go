package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's Prometheus metrics, on their own registry.
type Metrics struct {
	Registry         *prometheus.Registry
	calls            *prometheus.CounterVec
	callDuration     *prometheus.HistogramVec
	coldStarts       *prometheus.CounterVec
	coldStartLatency *prometheus.HistogramVec
	waiting          *prometheus.GaugeVec
	scaleEvents      *prometheus.CounterVec
}

// NewMetrics registers the gateway's metrics and the Go runtime's.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faas_gateway_calls_total", Help: "Calls answered, by function and HTTP status code.",
		}, []string{"function", "code"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faas_gateway_call_duration_seconds", Help: "Time from a call's arrival to its answer, by function.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"function"}),
		coldStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faas_gateway_cold_starts_total", Help: "Calls that arrived while their function had no ready pod.",
		}, []string{"function"}),
		coldStartLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faas_gateway_cold_start_duration_seconds", Help: "Time a cold call waited for a ready pod.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30},
		}, []string{"function"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "faas_gateway_waiting_calls", Help: "Calls held waiting for a free pod, by function.",
		}, []string{"function"}),
		scaleEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faas_gateway_scale_events_total", Help: "Scale changes the gateway made, by function and direction (up, down).",
		}, []string{"function", "direction"}),
	}
	m.Registry.MustRegister(m.calls, m.callDuration, m.coldStarts, m.coldStartLatency, m.waiting, m.scaleEvents,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}
