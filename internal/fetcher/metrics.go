package fetcher

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Results of a package request, the label of faas_fetcher_requests_total.
const (
	resultHit     = "hit"
	resultMiss    = "miss"
	resultRefused = "refused"
	resultFailed  = "failed"
)

// metrics are the fetcher's Prometheus metrics, registered on the
// Registerer New is given.
type metrics struct {
	requests     *prometheus.CounterVec
	fetchSeconds prometheus.Histogram
	evictions    prometheus.Counter
	cacheBytes   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faas_fetcher_requests_total",
			Help: "Package requests by result: hit (answered from the cache), miss (fetched first), refused (bad ticket or path), failed.",
		}, []string{"result"}),
		fetchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "faas_fetcher_fetch_seconds",
			Help:    "Time to fetch a package from the registry into the cache, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "faas_fetcher_evictions_total",
			Help: "Cached packages evicted to stay within --cache-max-bytes.",
		}),
		cacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "faas_fetcher_cache_bytes",
			Help: "Bytes of the cached packages' tar files.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.fetchSeconds, m.evictions, m.cacheBytes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
