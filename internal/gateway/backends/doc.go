// Package backends decides which pods of one function may take calls, from
// what the cluster says (EndpointSlices), what the gateway's own probes
// found, which pool pods were specialized for the function, and which pods
// refused a connection. The decision is a pure transition (State.Apply)
// tested from a table; Tracker runs it under a lock and probes the pods it
// asks to have probed.
//
// It must not know about capacity, HTTP calls, the pool's claims or the
// autoscaler: it only reports the ready set to whoever listens.
package backends
