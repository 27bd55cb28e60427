package operator

import (
	"fmt"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// Config is everything the operator is told at start.
type Config struct {
	// Kubeconfig is a kubeconfig path; empty means in-cluster or $KUBECONFIG.
	Kubeconfig string
	// Namespace limits the operator to one namespace; empty means all.
	Namespace string
	// PythonImage is the generic runner image of the python runtime.
	PythonImage string
	// MetricsAddr and ProbeAddr are where metrics and health probes are
	// served; "0" turns metrics off.
	MetricsAddr string
	ProbeAddr   string
	// LeaderElect makes only one of several operator replicas reconcile.
	LeaderElect bool
	// LeaderElectionNamespace holds the leader election Lease.
	LeaderElectionNamespace string
	// SystemNamespace is the platform's namespace, where the pool key
	// Secret shared with the gateway lives.
	SystemNamespace string
}

// Images returns the runner image of each runtime.
func (c Config) Images() resources.RunnerImages {
	return resources.RunnerImages{faasv1.RuntimePython: c.PythonImage}
}

// Validate reports a setting the operator cannot run with.
func (c Config) Validate() error {
	if c.PythonImage == "" {
		return fmt.Errorf("--python-image must not be empty")
	}
	return nil
}
