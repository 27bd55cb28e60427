// Package coldstart gives a function its first pod, and more pods from a
// pool during a burst: once per burst it specializes a pool pod or, when the
// pool has none to give, asks for one replica of the function's Deployment.
// A burst's calls wait in capacity; they do not each start anything.
//
// It must not know about HTTP calls, capacity or endpoints: it is told when
// to start, and it reports through the interfaces it declares.
package coldstart
