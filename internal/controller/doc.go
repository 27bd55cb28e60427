// Package controller holds the Function reconciler: it turns each Function
// into a NetworkPolicy, a ConfigMap with its code, a Deployment of runner
// pods and a Service (built by package resources), keeps them as built, and
// reports the pods' state in the Function's status. The RuntimePool
// reconciler keeps each pool's idle pods and their NetworkPolicy. Both learn
// where the API server is, which runner pods may not reach, from
// NetworkIsolation. It knows nothing of HTTP calls; the gateway decides how
// many replicas a Function wants.
package controller
