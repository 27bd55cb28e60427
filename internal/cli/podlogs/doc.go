// Package podlogs prints the logs of a set of pods, each line prefixed
// with its pod's name, and follows a set that changes: it watches the pods
// a label selector matches, starts streaming a pod's container once it
// has started (again after a restart), and ends a pod's stream when the
// pod is gone — through scale-out, scale to zero and back.
//
// It knows nothing of Functions; the caller gives the selector and the
// container's name.
package podlogs
