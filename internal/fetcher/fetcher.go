package fetcher

import (
	"fmt"
	"net/http"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// Deps are what New is given besides the Config.
type Deps struct {
	// Credentials are the registry's; TicketKey checks runners' tickets.
	Credentials packagebuild.Credentials
	TicketKey   []byte
	// Services reads the registry Service; needed only when
	// Config.Registry is empty.
	Services corev1client.ServicesGetter
	// Metrics registers the fetcher's metrics; Gatherer serves them on
	// /metrics. Either may be nil.
	Metrics  prometheus.Registerer
	Gatherer prometheus.Gatherer
	Log      logr.Logger
}

// Fetcher is the node-local fetcher: its cache and HTTP handler.
type Fetcher struct {
	store   *store
	handler http.Handler
}

// New empties cfg.CacheDir and returns a fetcher serving from it.
func New(cfg Config, deps Deps) (*Fetcher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(deps.TicketKey) < packages.MinTicketKeyBytes {
		return nil, fmt.Errorf("ticket key of %d bytes, fewer than %d", len(deps.TicketKey), packages.MinTicketKeyBytes)
	}
	newClient := func(addr string) remote.Client {
		return packagebuild.NewClient(addr, deps.Credentials, packagebuild.ClientOptions{
			DialTimeout: cfg.RegistryDialTimeout, ResponseHeaderTimeout: cfg.RegistryResponseHeaderTimeout,
		})
	}
	var reg registry
	if cfg.Registry != "" {
		reg = staticRegistry{e: &endpoint{addr: cfg.Registry, plainHTTP: cfg.PlainHTTP, client: newClient(cfg.Registry)}}
	} else {
		if deps.Services == nil {
			return nil, fmt.Errorf("no registry address and no client to read Service %s/%s", cfg.Namespace, cfg.RegistryService)
		}
		reg = &serviceRegistry{services: deps.Services, namespace: cfg.Namespace, name: cfg.RegistryService,
			timeout: cfg.ResolveTimeout, newClient: newClient}
	}
	registerer := deps.Metrics
	if registerer == nil {
		registerer = prometheus.NewRegistry()
	}
	m, err := newMetrics(registerer)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	st, err := newStore(cfg.CacheDir, cfg.CacheMaxBytes, reg, cfg.FetchTimeout, m, deps.Log)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(runnerapi.FetchPath, &packageHandler{key: deps.TicketKey, store: st, sendTimeout: cfg.SendTimeout, metrics: m, log: deps.Log})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	if deps.Gatherer != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(deps.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found: "+r.URL.Path)
	})
	return &Fetcher{store: st, handler: mux}, nil
}

// Handler serves packages, /healthz and /metrics.
func (f *Fetcher) Handler() http.Handler { return f.handler }
