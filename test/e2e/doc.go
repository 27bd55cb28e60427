// Package e2e holds the end-to-end tests that run against a real cluster
// (by default the local one from hack/local-cluster.sh) with images built
// from the project's Dockerfiles: `make test-e2e`. They are behind the e2e
// build tag and need KUBECONFIG.
package e2e
