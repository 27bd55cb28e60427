package httpapi

import (
	"net/http"
	"sync/atomic"
)

// Draining is set when the gateway starts shutting down.
type Draining struct{ on atomic.Bool }

// Start marks the gateway as draining.
func (d *Draining) Start() { d.on.Store(true) }

// On tells whether the gateway is draining.
func (d *Draining) On() bool { return d.on.Load() }

type drainMW struct {
	next     http.Handler
	draining *Draining
}

var _ http.Handler = (*drainMW)(nil)

// NewDrain closes each keep-alive connection after its next answer once the
// gateway drains, so clients move to other replicas between calls instead of
// finding their connection closed under a new call.
func NewDrain(next http.Handler, draining *Draining) http.Handler {
	return &drainMW{next: next, draining: draining}
}

func (h *drainMW) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.draining.On() {
		w.Header().Set("Connection", "close")
	}
	h.next.ServeHTTP(w, r)
}
