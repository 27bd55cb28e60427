// Package httpapi is the gateway's call path: one middleware per concern
// (drain, metrics, route, resolve, admit, forward), each
// NewX(next, deps..., cfg) http.Handler, assembled in one place by the
// gateway's chain.go. Errors of the path are sentinels mapped to HTTP
// answers in one place (errors.go).
//
// It must not know about Kubernetes objects, informers, the pool or the
// autoscaler: it reaches a function through the Target interface it
// declares.
package httpapi
