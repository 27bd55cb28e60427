package gateway

import (
	"net/http"
	"strings"

	"github.com/go-logr/logr"

	"github.com/minifaas/minifaas/internal/gateway/httpapi"
)

// chain builds the public handler, the one place the call path's
// middlewares are put in order:
//
//	drain → metrics → route → resolve → limits → admit → forward
//
// Anything outside /invoke/ is 404: the admin endpoints have their own port.
func chain(gw *Gateway, metrics *Metrics, draining *httpapi.Draining, cfg Config, log logr.Logger) http.Handler {
	var h http.Handler = httpapi.NewForward(gw.podTransport, httpapi.ForwardConfig{
		HoldTimeout: cfg.HoldTimeout, MaxAttempts: cfg.MaxAttempts, DeadlineGrace: cfg.DeadlineGrace,
	}, log)
	h = httpapi.NewAdmit(h, cfg.HoldTimeout, metrics, gw.now)
	h = httpapi.NewLimits(h, cfg.MaxBodyBytes)
	h = httpapi.NewResolve(h, gw)
	h = httpapi.NewRoute(h, cfg.DefaultNamespace)
	h = httpapi.NewMetrics(h, metrics.Calls, gw.now)
	h = httpapi.NewDrain(h, draining)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, httpapi.InvokePrefix) {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
