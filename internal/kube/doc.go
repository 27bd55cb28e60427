// Package kube holds the small Kubernetes helpers that the operator, the
// gateway and the tests share: client set-up and reading object state. It
// knows nothing of Functions.
package kube
