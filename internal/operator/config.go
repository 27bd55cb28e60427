package operator

import (
	"fmt"
	"net/netip"
	"time"

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
	// NodeJSImage is the generic runner image of the nodejs runtime.
	NodeJSImage string
	// LoadFailureHold is how long a Function whose code failed to load
	// stays LoadFailed at zero (callers answered at once) before the next
	// call tries again.
	LoadFailureHold time.Duration
	// MetricsAddr and ProbeAddr are where metrics and health probes are
	// served; "0" turns metrics off.
	MetricsAddr string
	ProbeAddr   string
	// LeaderElect makes only one of several operator replicas reconcile.
	LeaderElect bool
	// LeaderElectionNamespace holds the leader election Lease.
	LeaderElectionNamespace string
	// SystemNamespace is the platform's namespace, where the pool key
	// Secret shared with the gateway lives and the gateway runs.
	SystemNamespace string
	// APIServerCIDRs are addresses of the API server, as IPs or CIDRs, that
	// runner pods may not reach besides those the cluster lists (the
	// kubernetes Service and its endpoints), e.g. a managed cluster's
	// public endpoint.
	APIServerCIDRs []string
	// QPS and Burst bound the operator's requests to the API server, per
	// resource type (controller-runtime keeps one rate limiter per
	// resource's REST client). client-go's defaults, 5 and 10 (20 and 30
	// through controller-runtime's kubeconfig loading), capped a burst of
	// new Functions, which cost five requests each: four applies and a
	// status patch.
	QPS   float32
	Burst int
	// FunctionConcurrency and PoolConcurrency are how many Functions and
	// RuntimePools are reconciled at once (different objects; one object
	// is never reconciled twice at a time).
	FunctionConcurrency int
	PoolConcurrency     int
	// PprofAddr serves net/http/pprof; "0" (the default) turns it off.
	PprofAddr string
	// PackageImage is the faas-package image of package builds; empty
	// turns packages off.
	PackageImage string
	// RegistryService and FetcherService name the package registry's and
	// the node-local fetcher's Services in SystemNamespace.
	RegistryService, FetcherService string
	// BuildDeadline bounds one package build; RegistryTimeout one request
	// to the registry.
	BuildDeadline, RegistryTimeout time.Duration
	// BuildPollInterval, BuildRetryInterval, BuildJobTTL and
	// PackageCleanupGiveUp: see controller.Packages.
	BuildPollInterval, BuildRetryInterval, BuildJobTTL, PackageCleanupGiveUp time.Duration
}

// Defaults of the API client's rate limit and of the reconcile workers.
const (
	DefaultQPS                 = 50
	DefaultBurst               = 100
	DefaultFunctionConcurrency = 16
	DefaultPoolConcurrency     = 1
	DefaultBuildDeadline       = 10 * time.Minute
	DefaultRegistryTimeout     = 30 * time.Second
)

// APIServerPrefixes returns APIServerCIDRs parsed; a bare IP is a /32 or
// /128.
func (c Config) APIServerPrefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(c.APIServerCIDRs))
	for _, s := range c.APIServerCIDRs {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--api-server-cidr %q is neither an IP nor a CIDR", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Images returns the runner image of each runtime.
func (c Config) Images() resources.RunnerImages {
	return resources.RunnerImages{faasv1.RuntimePython: c.PythonImage, faasv1.RuntimeNodeJS: c.NodeJSImage}
}

// Validate reports a setting the operator cannot run with.
func (c Config) Validate() error {
	if c.PythonImage == "" {
		return fmt.Errorf("--python-image must not be empty")
	}
	if c.NodeJSImage == "" {
		return fmt.Errorf("--nodejs-image must not be empty")
	}
	if _, err := c.APIServerPrefixes(); err != nil {
		return err
	}
	if c.QPS <= 0 || c.Burst < 1 {
		return fmt.Errorf("--kube-api-qps must be > 0 and --kube-api-burst ≥ 1, not %g and %d", c.QPS, c.Burst)
	}
	if c.FunctionConcurrency < 1 || c.PoolConcurrency < 1 {
		return fmt.Errorf("--function-concurrency and --runtimepool-concurrency must be ≥ 1, not %d and %d", c.FunctionConcurrency, c.PoolConcurrency)
	}
	return nil
}
