// Package pool is the gateway's side of RuntimePools: which idle pool pods
// it may claim (View, with rendezvous hashing so replicas agree), what a
// function's specialization is (SpecFor), claiming a pod by specializing it
// over HTTP (Claimer), and handing the pod to its function in the API
// (Adopter).
//
// It must not know about capacity, the call path or the autoscaler: it
// returns claimed pods to its caller, which decides where calls go.
package pool
