package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Sentinel errors of the call path, mapped to HTTP answers in one place:
// statusOf.
var (
	ErrBadPath          = errors.New("bad invoke path")
	ErrNotFound         = errors.New("function not found")
	ErrBodyTooLarge     = errors.New("request body too large")
	ErrQueueFull        = errors.New("too many calls waiting for the function")
	ErrColdStartTimeout = errors.New("function did not become ready in time")
	ErrCallTimeout      = errors.New("function did not answer in time")
	ErrUpstream         = errors.New("function pod unreachable")
)

// statusOf maps an error of the call path to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadPath):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrQueueFull):
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

// writeError answers err as JSON with its status; a full queue also gets
// Retry-After.
func writeError(w http.ResponseWriter, function string, err error) int {
	status := statusOf(err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(errorBody{Error: err.Error(), Status: status, Function: function})
	return status
}
