// Package capacity decides which call gets a slot on which pod of one
// function: at most the function's concurrency calls per pod, the least busy
// pod first, and waiting calls served strictly in arrival order, one waiter
// woken per freed slot.
//
// It must not know about Kubernetes, HTTP or how pods come and go: its owner
// tells it the current pods (SetPods) and is told when a call starts waiting
// (Hooks.Queued), so it can start a cold start or a scale-out.
package capacity
