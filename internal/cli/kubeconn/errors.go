package kubeconn

import "errors"

// ErrNoConfig is returned when no kubeconfig names a cluster and the CLI
// does not run in one.
var ErrNoConfig = errors.New("no Kubernetes cluster configured")
