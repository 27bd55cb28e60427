package fetcher

import (
	"errors"
	"fmt"
	"time"

	"github.com/minifaas/minifaas/internal/runnerapi"
)

// Config is the fetcher's configuration, parsed once from flags.
type Config struct {
	// ListenAddr serves packages, /healthz and /metrics.
	ListenAddr string
	// CredentialsDir holds the files of the Secret faas-packages:
	// username, password, ticketKey and, to use another registry than
	// the platform's, registry and plainHTTP.
	CredentialsDir string
	// Registry is the registry's host[:port][/path]; PlainHTTP talks HTTP
	// to it. Empty: the registry file of CredentialsDir, else the
	// ClusterIP of Service RegistryService in Namespace, over HTTP.
	Registry        string
	PlainHTTP       bool
	RegistryService string
	Namespace       string
	// Kubeconfig is used to read the Service; empty means in-cluster.
	Kubeconfig string
	// CacheDir is the fetcher's own directory, emptied at start.
	CacheDir string
	// CacheMaxBytes bounds the cached packages' tar files; the entries
	// served least recently are evicted beyond it.
	CacheMaxBytes int64

	// ReadHeaderTimeout bounds reading a request's headers; IdleTimeout
	// how long an idle connection is kept.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	// FetchTimeout bounds fetching one package from the registry on a
	// miss, which every request for it waits for.
	FetchTimeout time.Duration
	// SendTimeout bounds writing one answer, from when the package is at
	// hand.
	SendTimeout time.Duration
	// ResolveTimeout bounds reading the registry Service.
	ResolveTimeout time.Duration
	// RegistryDialTimeout and RegistryResponseHeaderTimeout bound each
	// request to the registry.
	RegistryDialTimeout           time.Duration
	RegistryResponseHeaderTimeout time.Duration
	// ShutdownTimeout bounds answering the requests in flight at exit.
	ShutdownTimeout time.Duration
}

// DefaultConfig is the configuration of the fetcher's flags' defaults.
func DefaultConfig() Config {
	return Config{
		ListenAddr:                    fmt.Sprintf(":%d", runnerapi.FetcherPort),
		CredentialsDir:                "/etc/faas-packages",
		PlainHTTP:                     true,
		RegistryService:               "faas-registry",
		CacheDir:                      "/var/cache/faas-packages",
		CacheMaxBytes:                 2 << 30,
		ReadHeaderTimeout:             5 * time.Second,
		IdleTimeout:                   90 * time.Second,
		FetchTimeout:                  2 * time.Minute,
		SendTimeout:                   2 * time.Minute,
		ResolveTimeout:                10 * time.Second,
		RegistryDialTimeout:           5 * time.Second,
		RegistryResponseHeaderTimeout: 30 * time.Second,
		ShutdownTimeout:               30 * time.Second,
	}
}

func (c Config) validate() error {
	var errs []error
	if c.CacheDir == "" {
		errs = append(errs, errors.New("a cache directory is required"))
	}
	if c.CacheMaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("cache max bytes %d: must be positive", c.CacheMaxBytes))
	}
	if c.Registry == "" && (c.RegistryService == "" || c.Namespace == "") {
		errs = append(errs, errors.New("a registry address, or a registry Service and its namespace, are required"))
	}
	for name, d := range map[string]time.Duration{
		"read header": c.ReadHeaderTimeout, "fetch": c.FetchTimeout, "send": c.SendTimeout,
		"resolve": c.ResolveTimeout, "shutdown": c.ShutdownTimeout,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s timeout %s: must be positive", name, d))
		}
	}
	return errors.Join(errs...)
}
