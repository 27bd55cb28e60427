package gateway

import (
	"fmt"
	"time"
)

// Config is everything the gateway is told at start; every timeout and
// interval of the gateway is here.
type Config struct {
	// Kubeconfig is a kubeconfig path; empty means in-cluster or $KUBECONFIG.
	Kubeconfig string
	// ListenAddr serves /invoke/ only: it is the public port.
	ListenAddr string
	// AdminAddr serves /metrics, /healthz, /readyz and the load report other
	// replicas scrape; the public Service does not expose it.
	AdminAddr string
	// Namespace limits the gateway to one namespace's Functions; empty means all.
	Namespace string
	// DefaultNamespace is where /invoke/<name> looks; /invoke/<name>.<namespace>
	// names another.
	DefaultNamespace string
	// MaxBodyBytes bounds a call's request body (413 above it).
	MaxBodyBytes int64
	// HoldTimeout bounds how long a call waits for a free slot (504 after it).
	HoldTimeout time.Duration
	// MaxWaiting bounds the calls one function holds waiting (503 above it).
	MaxWaiting int
	// MaxAttempts bounds the pods one call is tried on when connections fail
	// before anything was sent.
	MaxAttempts int
	// HeaderTimeout bounds reading a call's headers; KeepAliveTimeout how
	// long an idle client connection stays open.
	HeaderTimeout, KeepAliveTimeout time.Duration
	// DialTimeout bounds connecting to a pod; PodKeepAliveTimeout how long
	// an idle connection to a pod is kept (below the runner's own).
	DialTimeout, PodKeepAliveTimeout time.Duration
	// DeadlineGrace is added to a function's call timeout for the call's
	// read and write deadlines.
	DeadlineGrace time.Duration

	// ProbeInterval is how often the gateway probes a starting pod itself,
	// for ProbeFastFor, then backing off to ProbeMaxInterval, for at most
	// ProbeTimeout; ProbeRequestTimeout bounds one probe.
	ProbeInterval, ProbeFastFor, ProbeMaxInterval, ProbeTimeout, ProbeRequestTimeout time.Duration

	// ColdStartTimeout bounds one start (a pool claim or a scale from zero);
	// ColdStartRetryBackoff is the pause after a failed one.
	ColdStartTimeout, ColdStartRetryBackoff time.Duration
	// ColdStartAskGrace is how long after asking for a replica no other ask
	// is made while the Function is not seen with it yet.
	ColdStartAskGrace time.Duration
	// HealInterval is how often functions holding calls with no pod and no
	// replica asked for are started again.
	HealInterval time.Duration
	// SpecializeTimeout bounds one specialization of a pool pod, and
	// ClaimAttempts the pool pods one start tries.
	SpecializeTimeout time.Duration
	ClaimAttempts     int
	// PackageSpecializeTimeout bounds the specialization of a pool pod
	// with a package, which the pod fetches from its node's fetcher first
	// (up to 100 MiB when the node does not have it yet).
	PackageSpecializeTimeout time.Duration
	// APITimeout bounds one write to the API server; AdoptAttempts and
	// AdoptBackoff the hand-over of a claimed pool pod.
	APITimeout    time.Duration
	AdoptAttempts int
	AdoptBackoff  time.Duration
	// PoolWarmInterval renews the warm connections to idle pool pods.
	PoolWarmInterval time.Duration
	// StatsTimeout bounds asking a pod for its calls before scaling to zero.
	StatsTimeout time.Duration

	// AutoscaleInterval is how often demand is sampled and functions sized;
	// BurstWindow the window averaged for a recommendation; ScrapeTimeout
	// bounds collecting the replicas' load.
	AutoscaleInterval, BurstWindow, ScrapeTimeout time.Duration
	// PeerGoneAfter is how long a peer may fail to report before its
	// demand counts as none (its node died, say) instead of unknown.
	PeerGoneAfter time.Duration
	// PendingTTL is how long state made for endpoints of a Function not
	// (or no longer) seen is kept.
	PendingTTL time.Duration
	// HandoverTTL is how long a pool pod this replica specialized counts
	// as its function's before the function's status lists it.
	HandoverTTL time.Duration
	// HandoverDelay bounds how long the hand-over of a claimed pool pod
	// waits for the pod's first answer: the work the hand-over sets off on
	// the node would stall that call. At most a quarter of HandoverTTL (the
	// claim must not lapse before it is handed over) and of
	// PoolWarmInterval (another replica's pool warmer deletes a pod seen
	// specialized and idle on two rounds: one waiting for its hand-over
	// must not be taken for one never handed over).
	HandoverDelay time.Duration

	// LeaderElect makes one gateway replica the autoscaler.
	LeaderElect bool
	// LeaderElectionNamespace holds the autoscaler's Lease.
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod time the election.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Identity names this replica in the Lease; defaults to the host name.
	Identity string
	// PodIP is this replica's own address, left out of its peers.
	PodIP string
	// PeerService is the Service in SystemNamespace whose EndpointSlices
	// list every replica's admin port.
	PeerService string

	// RunnerPort and RunnerAdminPort are the runner's call and admin ports.
	RunnerPort, RunnerAdminPort int
	// SystemNamespace is the platform's namespace, home of the pool key
	// Secret and of the gateway's peers.
	SystemNamespace string

	// CompilerService is the Service in SystemNamespace of the compiler
	// that compiles inline Python code ahead of first calls; empty turns
	// compiling ahead off (pool pods then compile the code themselves).
	CompilerService string
	// CompileTimeout bounds one compile; CompileRetryInterval is the pause
	// after one that failed for a reason that may pass.
	CompileTimeout, CompileRetryInterval time.Duration
	// CompileAttempts bounds the failed compiles of one source (the
	// compiler out of time or memory on it) before pods are left to
	// compile it themselves.
	CompileAttempts int
	// CompiledCacheBytes bounds the compiled code kept in memory, least
	// recently used out first.
	CompiledCacheBytes int

	// DrainDelay is how long a stopping gateway keeps accepting calls, each
	// answered with Connection: close; ShutdownTimeout then bounds waiting
	// for held and in-flight calls.
	DrainDelay, ShutdownTimeout time.Duration
}

// Validate reports a setting the gateway cannot run with.
func (c Config) Validate() error {
	positive := map[string]time.Duration{
		"--hold-timeout": c.HoldTimeout, "--probe-interval": c.ProbeInterval, "--probe-max-interval": c.ProbeMaxInterval,
		"--probe-timeout": c.ProbeTimeout, "--probe-request-timeout": c.ProbeRequestTimeout,
		"--cold-start-timeout": c.ColdStartTimeout, "--cold-start-ask-grace": c.ColdStartAskGrace, "--heal-interval": c.HealInterval,
		"--specialize-timeout": c.SpecializeTimeout, "--package-specialize-timeout": c.PackageSpecializeTimeout, "--api-timeout": c.APITimeout,
		"--pool-warm-interval": c.PoolWarmInterval, "--stats-timeout": c.StatsTimeout,
		"--autoscale-interval": c.AutoscaleInterval, "--burst-window": c.BurstWindow,
		"--scrape-timeout": c.ScrapeTimeout, "--header-timeout": c.HeaderTimeout, "--dial-timeout": c.DialTimeout, "--pod-keep-alive-timeout": c.PodKeepAliveTimeout, "--keep-alive-timeout": c.KeepAliveTimeout, "--pending-ttl": c.PendingTTL, "--handover-ttl": c.HandoverTTL, "--handover-delay": c.HandoverDelay, "--peer-gone-after": c.PeerGoneAfter, "--shutdown-timeout": c.ShutdownTimeout,
	}
	for flag, d := range positive {
		if d <= 0 {
			return fmt.Errorf("%s must be positive", flag)
		}
	}
	switch {
	case c.ListenAddr == "" || c.AdminAddr == "":
		return fmt.Errorf("--listen and --admin-listen must not be empty")
	case c.ListenAddr == c.AdminAddr:
		return fmt.Errorf("--listen and --admin-listen must differ: the admin port is not public")
	case c.DefaultNamespace == "":
		return fmt.Errorf("--default-namespace must not be empty")
	case c.MaxBodyBytes <= 0:
		return fmt.Errorf("--max-body-bytes must be positive")
	case c.MaxWaiting <= 0 || c.MaxAttempts <= 0 || c.AdoptAttempts <= 0 || c.ClaimAttempts <= 0:
		return fmt.Errorf("--max-waiting, --max-attempts, --adopt-attempts and --claim-attempts must be positive")
	case c.LeaderElect && !(c.LeaseDuration > c.RenewDeadline && c.RenewDeadline > c.RetryPeriod && c.RetryPeriod > 0):
		return fmt.Errorf("--lease-duration must exceed --renew-deadline, which must exceed --retry-period")
	case c.RunnerPort <= 0 || c.RunnerAdminPort <= 0:
		return fmt.Errorf("runner ports must be positive")
	case c.HandoverDelay > c.HandoverTTL/4 || c.HandoverDelay > c.PoolWarmInterval/4:
		return fmt.Errorf("--handover-delay must be at most a quarter of --handover-ttl and of --pool-warm-interval")
	case c.CompilerService != "" && (c.CompileTimeout <= 0 || c.CompileRetryInterval <= 0 || c.CompileAttempts <= 0 || c.CompiledCacheBytes <= 0):
		return fmt.Errorf("--compile-timeout, --compile-retry-interval, --compile-attempts and --compiled-cache-bytes must be positive (or --compiler-service empty)")
	case c.DrainDelay < 0 || c.DeadlineGrace < 0 || c.ColdStartRetryBackoff < 0 || c.ProbeFastFor < 0:
		return fmt.Errorf("durations must not be negative")
	}
	return nil
}
