package httpapi

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/minifaas/minifaas/internal/gateway/capacity"
)

// Target is one function as the call path needs it.
type Target interface {
	// Acquire reserves a slot on a ready pod, waiting as capacity decides
	// for at most hold (then context.DeadlineExceeded); cold tells whether
	// the function had no pod at all.
	Acquire(ctx context.Context, hold time.Duration) (slot capacity.Slot, cold bool, err error)
	Release(slot capacity.Slot)
	// CallTimeout is the function's timeout for one call.
	CallTimeout() time.Duration
	// Unavailable is non-nil when calls must be answered at once, for
	// example when the code cannot load and no pod serves.
	Unavailable() error
	// ConnFailed takes a pod whose connection failed out of rotation.
	ConnFailed(ip string)
	// WaitReason says why calls may be waiting, e.g. the Function's Ready
	// condition; "" when nothing is known.
	WaitReason() string
}

// Resolver finds a function's Target; nil when there is no such function.
type Resolver interface {
	Resolve(key types.NamespacedName) Target
}

// Call is one call's state, shared by the middlewares through its context.
type Call struct {
	Start time.Time
	// Function is "namespace/name" once routed.
	Function string
	Key      types.NamespacedName
	// Path and RawPath are the function's path.
	Path, RawPath string
	Target        Target
	// Slot is the reservation the call holds; held tells whether it must
	// be released.
	Slot capacity.Slot
	held bool
	// Cold is "pool" or "deployment" for a call that waited for a first pod.
	Cold string
	// Err is the forwarding error, if any.
	Err error

	// rec is the call's ResponseWriter as the middlewares after metrics see
	// it; it lives in the Call so that a call allocates one object, not two.
	rec statusRecorder
	// trace tells the transport's attempts apart: wrote is set once any
	// attempt of the call has written its headers to a pod (see
	// retryTransport). Both live in the Call for the same reason as rec.
	trace httptrace.ClientTrace
	wrote atomic.Bool
}

func (c *Call) wroteHeaders() { c.wrote.Store(true) }

type callKey struct{}

// CallOf returns the call of a request made by NewMetrics.
func CallOf(r *http.Request) *Call {
	c, _ := r.Context().Value(callKey{}).(*Call)
	return c
}

func withCall(r *http.Request, c *Call) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callKey{}, c))
}
