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
	specializations  *prometheus.CounterVec
	// specializationLatency is seen from the gateway: one HTTP round trip.
	specializationLatency prometheus.Histogram
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
			Name: "faas_gateway_cold_starts_total", Help: "Calls that arrived while their function had no ready pod, by the path that served them (pool, deployment).",
		}, []string{"function", "path"}),
		coldStartLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faas_gateway_cold_start_duration_seconds", Help: "Time a cold call waited for a ready pod, by path.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30},
		}, []string{"function", "path"}),
		specializations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faas_gateway_specializations_total", Help: "Pool pod specializations, by function and result (ok, refused).",
		}, []string{"function", "result"}),
		specializationLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "faas_gateway_specialization_duration_seconds", Help: "Time a pool pod took to accept a function's code, seen from the gateway.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "faas_gateway_waiting_calls", Help: "Calls held waiting for a free pod, by function.",
		}, []string{"function"}),
		scaleEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faas_gateway_scale_events_total", Help: "Scale changes the gateway made, by function and direction (up, down).",
		}, []string{"function", "direction"}),
	}
	m.Registry.MustRegister(m.calls, m.callDuration, m.coldStarts, m.coldStartLatency, m.waiting, m.scaleEvents,
		m.specializations, m.specializationLatency,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// watchPools exports the claimable pool pods the gateway sees.
func (m *Metrics) watchPools(ps *pools) {
	m.Registry.MustRegister(poolCollector{ps: ps, desc: prometheus.NewDesc("faas_gateway_pool_idle_pods",
		"Ready, unspecialized pool pods the gateway may claim, by namespace and runtime.", []string{"namespace", "runtime"}, nil)})
}

// poolCollector reads the pool counts at scrape time.
type poolCollector struct {
	ps   *pools
	desc *prometheus.Desc
}

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for k, n := range c.ps.idleCounts() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}
