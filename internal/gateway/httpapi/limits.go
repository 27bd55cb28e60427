package httpapi

import (
	"fmt"
	"net/http"
)

type limitsMW struct {
	next         http.Handler
	maxBodyBytes int64
}

var _ http.Handler = (*limitsMW)(nil)

// NewLimits bounds the request body: 413 at once when Content-Length says it
// is too large, and while reading when a chunked body grows past the limit.
func NewLimits(next http.Handler, maxBodyBytes int64) http.Handler {
	return &limitsMW{next: next, maxBodyBytes: maxBodyBytes}
}

func (h *limitsMW) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > h.maxBodyBytes {
		WriteError(w, CallOf(r).Function, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBodyTooLarge, r.ContentLength, h.maxBodyBytes))
		return
	}
	if r.ContentLength < 0 {
		// Chunked: bounded while it is read. A body of known length is
		// already cut at its Content-Length by the server.
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBodyBytes)
	}
	h.next.ServeHTTP(w, r)
}
