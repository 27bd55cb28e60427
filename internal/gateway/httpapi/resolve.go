package httpapi

import (
	"fmt"
	"net/http"
)

type resolveMW struct {
	next     http.Handler
	resolver Resolver
}

var _ http.Handler = (*resolveMW)(nil)

// NewResolve finds the called function: 404 when there is none, 503 with
// Retry-After at once when it cannot serve (its code does not load and no
// pod serves it).
func NewResolve(next http.Handler, resolver Resolver) http.Handler {
	return &resolveMW{next: next, resolver: resolver}
}

func (h *resolveMW) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallOf(r)
	t := h.resolver.Resolve(c.Key)
	if t == nil {
		WriteError(w, c.Function, fmt.Errorf("%w: no Function %s", ErrNotFound, c.Function))
		return
	}
	c.Target = t
	if err := t.Unavailable(); err != nil {
		WriteError(w, c.Function, err)
		return
	}
	h.next.ServeHTTP(w, r)
}
