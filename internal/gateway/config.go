package gateway

import (
	"fmt"
	"time"
)

// Config is everything the gateway is told at start.
type Config struct {
	// Kubeconfig is a kubeconfig path; empty means in-cluster or $KUBECONFIG.
	Kubeconfig string
	// ListenAddr serves /invoke/, /metrics, /healthz and /readyz.
	ListenAddr string
	// Namespace limits the gateway to one namespace's Functions; empty means all.
	Namespace string
	// DefaultNamespace is where /invoke/<name> looks; /invoke/<name>.<namespace>
	// names another.
	DefaultNamespace string
	// MaxBodyBytes bounds a call's request body (413 above it).
	MaxBodyBytes int64
	// HoldTimeout bounds how long a call waits for a ready pod (504 after it).
	HoldTimeout time.Duration
	// MaxWaiting bounds the calls one function holds while it has no free
	// pod (503 with Retry-After above it).
	MaxWaiting int
	// ProbeInterval is how often the gateway probes a new pod's readiness
	// itself, ahead of the kubelet's readiness period.
	ProbeInterval time.Duration
	// IdleCheckInterval is how often idle functions are looked for.
	IdleCheckInterval time.Duration
	// LeaderElect makes one gateway replica the idler that scales to zero.
	LeaderElect bool
	// LeaderElectionNamespace holds the idler's Lease.
	LeaderElectionNamespace string
	// Identity names this replica in the Lease; defaults to the host name.
	Identity string
	// RunnerPort is the port runner pods serve on.
	RunnerPort int
	// SystemNamespace is the platform's namespace, where the pool key
	// Secret shared with the operator lives.
	SystemNamespace string
}

// Validate reports a setting the gateway cannot run with.
func (c Config) Validate() error {
	switch {
	case c.ListenAddr == "":
		return fmt.Errorf("--listen must not be empty")
	case c.DefaultNamespace == "":
		return fmt.Errorf("--default-namespace must not be empty")
	case c.MaxBodyBytes <= 0:
		return fmt.Errorf("--max-body-bytes must be positive")
	case c.HoldTimeout <= 0:
		return fmt.Errorf("--hold-timeout must be positive")
	case c.MaxWaiting <= 0:
		return fmt.Errorf("--max-waiting must be positive")
	case c.RunnerPort <= 0:
		return fmt.Errorf("runner port must be positive")
	case c.ProbeInterval <= 0 || c.IdleCheckInterval <= 0:
		return fmt.Errorf("--probe-interval and --idle-check-interval must be positive")
	}
	return nil
}
