package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/minifaas/minifaas/internal/gateway/autoscaler"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
)

// adminRoutes serves the admin port: metrics, health, readiness (false
// while draining, so the replica leaves the Service) and the load report
// the autoscaler scrapes.
func adminRoutes(gw *Gateway, metrics *Metrics, draining *httpapi.Draining) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if draining.On() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok")) // informers synced before the servers started
	})
	mux.HandleFunc("GET "+autoscaler.LoadPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(gw.Report())
	})
	return mux
}
