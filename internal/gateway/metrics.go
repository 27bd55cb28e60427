package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	"github.com/minifaas/minifaas/internal/gateway/autoscaler"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
	"github.com/minifaas/minifaas/internal/gateway/pool"
)

// Metrics are the gateway's Prometheus metrics, on their own registry.
type Metrics struct {
	Registry         *prometheus.Registry
	Calls            httpapi.CallMetrics
	coldStarts       *prometheus.CounterVec
	coldStartLatency *prometheus.HistogramVec
	desired          *prometheus.GaugeVec
	scaleEvents      *prometheus.CounterVec
	specializations  *prometheus.CounterVec
	compiles         *prometheus.CounterVec
	// specializationLatency is seen from the gateway: one HTTP round trip.
	specializationLatency prometheus.Histogram
}

// NewMetrics registers the gateway's metrics and the Go runtime's.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Calls:    httpapi.NewCallMetrics(),
		coldStarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faas_gateway_cold_starts_total", Help: "Calls that arrived while their function had no ready pod, by the path that served them (pool, deployment).",
		}, []string{"function", "path"}),
		coldStartLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "faas_gateway_cold_start_duration_seconds", Help: "Time a cold call waited for a ready pod, by path.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30},
		}, []string{"function", "path"}),
		specializations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faas_gateway_specializations_total", Help: "Pool pod specializations, by function and result (ok, shared, refused, unreachable, unloadable).",
		}, []string{"function", "result"}),
		specializationLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "faas_gateway_specialization_duration_seconds", Help: "Time a pool pod took to accept a function's code, seen from the gateway.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		compiles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faas_gateway_compiles_total", Help: "Compiles of functions' inline code ahead of their first call, by result (compiled, uncompilable, uncacheable, failed, abandoned after its attempts).",
		}, []string{"result"}),
		desired: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "faas_gateway_desired_pods", Help: "Pods the autoscaler wants for a function (leader only).",
		}, []string{"function"}),
		scaleEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faas_gateway_scale_events_total", Help: "Scale changes the gateway made, by function and direction (up, down).",
		}, []string{"function", "direction"}),
	}
	m.Registry.MustRegister(m.Calls.Calls, m.Calls.CallDuration, m.coldStarts, m.coldStartLatency, m.desired,
		m.scaleEvents, m.specializations, m.specializationLatency, m.compiles,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Compiled counts one compile ahead by its result.
func (m *Metrics) Compiled(result string) { m.compiles.WithLabelValues(result).Inc() }

// forget removes every series of a deleted function.
func (m *Metrics) forget(function string) {
	m.Calls.Forget(function)
	l := prometheus.Labels{"function": function}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.coldStarts, m.coldStartLatency, m.desired, m.scaleEvents, m.specializations} {
		v.DeletePartialMatch(l)
	}
}

// ColdStart is the call path's report of a call that waited for a first pod.
func (m *Metrics) ColdStart(function, path string, waited time.Duration, ok bool) {
	m.coldStarts.WithLabelValues(function, path).Inc()
	if ok {
		m.coldStartLatency.WithLabelValues(function, path).Observe(waited.Seconds())
	}
}

// Scaled and Desired are the autoscaler's reports.
func (m *Metrics) Scaled(fn types.NamespacedName, from, to int32, _ string) {
	dir := "up"
	if to < from {
		dir = "down"
	}
	m.scaleEvents.WithLabelValues(fn.String(), dir).Inc()
}

func (m *Metrics) Desired(fn types.NamespacedName, desired int32) {
	m.desired.WithLabelValues(fn.String()).Set(float64(desired))
}

// watchLoad exports the calls waiting and in flight on this replica, read
// from the functions at scrape time.
func (m *Metrics) watchLoad(report func() autoscaler.Report) {
	m.Registry.MustRegister(loadCollector{report: report,
		waiting:  prometheus.NewDesc("faas_gateway_waiting_calls", "Calls held waiting for a free pod on this replica, by function.", []string{"function"}, nil),
		inFlight: prometheus.NewDesc("faas_gateway_in_flight_calls", "Calls in flight to pods from this replica, by function.", []string{"function"}, nil),
	})
}

type loadCollector struct {
	report            func() autoscaler.Report
	waiting, inFlight *prometheus.Desc
}

func (c loadCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.waiting; ch <- c.inFlight }

func (c loadCollector) Collect(ch chan<- prometheus.Metric) {
	for fn, l := range c.report().Functions {
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(l.Waiting), fn)
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(l.InFlight), fn)
	}
}

// watchPools exports the claimable pool pods the gateway sees.
func (m *Metrics) watchPools(v *pool.View) {
	m.Registry.MustRegister(poolCollector{v: v, desc: prometheus.NewDesc("faas_gateway_pool_idle_pods",
		"Ready, unspecialized pool pods the gateway may claim, by namespace and runtime.", []string{"namespace", "runtime"}, nil)})
}

// poolCollector reads the pool counts at scrape time.
type poolCollector struct {
	v    *pool.View
	desc *prometheus.Desc
}

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for k, n := range c.v.IdleCounts() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}
