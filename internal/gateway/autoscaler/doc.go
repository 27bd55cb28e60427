// Package autoscaler sizes every function to its demand: calls in flight
// plus calls waiting, summed over every gateway replica and sampled each
// tick. One replica, the leader, runs it: it collects each replica's load
// (its own directly, the others' over their admin port), decides with a
// pure function (Decide), and writes the result through the Function's scale
// subresource.
//
// It must not know about HTTP calls, capacity internals, endpoints or the
// pool's claims: it reads load and functions through interfaces it declares.
package autoscaler
