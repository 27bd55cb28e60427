package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/minifaas/minifaas/internal/gateway/capacity"
)

// Sentinel errors of the call path, mapped to HTTP answers in one place:
// statusOf.
var (
	ErrBadPath          = errors.New("bad invoke path")
	ErrNotFound         = errors.New("function not found")
	ErrBodyTooLarge     = errors.New("request body too large")
	ErrBadRequestBody   = errors.New("malformed request body")
	ErrColdStartTimeout = errors.New("function did not become ready in time")
	ErrCallTimeout      = errors.New("function did not answer in time")
	ErrUpstream         = errors.New("function pod unreachable")
	ErrUnavailable      = errors.New("function unavailable")
)

// statusOf maps an error of the call path to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadPath), errors.Is(err, ErrBadRequestBody):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, capacity.ErrQueueFull), errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrColdStartTimeout), errors.Is(err, ErrCallTimeout):
		return http.StatusGatewayTimeout
	default:
		return http.StatusBadGateway
	}
}

// errorBody is the JSON body of every error the gateway answers; the
// runner answers its own errors in the same shape.
type errorBody struct {
	Error    string `json:"error"`
	Status   int    `json:"status"`
	Function string `json:"function,omitempty"`
}

// RetryAfterSeconds is the Retry-After of every 503: a full queue, code
// that cannot load, or a gateway shutting down.
const RetryAfterSeconds = "1"

// WriteError answers err as JSON with its status; a 503 also gets
// Retry-After.
func WriteError(w http.ResponseWriter, function string, err error) int {
	status := statusOf(err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", RetryAfterSeconds)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(errorBody{Error: err.Error(), Status: status, Function: function})
	return status
}
