// Package operator wires the Function reconciler into a controller-runtime
// manager: configuration, scheme, caches limited to the objects the
// operator owns, health probes and metrics. cmd/operator only parses flags
// and calls Run.
package operator
