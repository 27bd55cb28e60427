// Package pooltoken derives the per-pod tokens that let the gateway, and
// only the gateway, specialize a pool pod. Operator and gateway share one
// random key (a Secret in the platform's namespace); a pod is given just the
// SHA-256 of its own token, so code running in one pod learns nothing that
// opens another. It knows nothing of HTTP or of how the key is stored.
package pooltoken
