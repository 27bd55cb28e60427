package httpapi

import (
	"net/http"
)

type routeMW struct {
	next             http.Handler
	defaultNamespace string
}

var _ http.Handler = (*routeMW)(nil)

// NewRoute parses /invoke/<name>[.<namespace>][/<rest>] into the call; a
// malformed path is answered 400.
func NewRoute(next http.Handler, defaultNamespace string) http.Handler {
	return &routeMW{next: next, defaultNamespace: defaultNamespace}
}

func (h *routeMW) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := CallOf(r)
	inv, err := parseInvokePath(r.URL.EscapedPath(), h.defaultNamespace)
	if err != nil {
		WriteError(w, "", err)
		return
	}
	c.Key, c.Function, c.Path, c.RawPath = inv.fn, inv.fn.String(), inv.path, inv.rawPath
	h.next.ServeHTTP(w, r)
}
