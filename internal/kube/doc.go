// Package kube holds the small pieces of Kubernetes client set-up that the
// operator and the gateway share. It knows nothing of Functions.
package kube
