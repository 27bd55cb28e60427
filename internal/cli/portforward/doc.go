// Package portforward opens a local port to a Service the way
// `kubectl port-forward svc/<name>` does: it resolves the Service to one
// ready pod and the Service port to that pod's container port, then
// forwards through the API server over SPDY (client-go's
// tools/portforward).
//
// It knows nothing of Functions or the gateway; the caller names the
// Service.
package portforward
