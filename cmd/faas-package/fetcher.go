package main

import (
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2/textlogger"

	"github.com/minifaas/minifaas/internal/fetcher"
)

func fetcherCommand() *cobra.Command {
	cfg := fetcher.DefaultConfig()
	var verbosity int
	cmd := &cobra.Command{
		Use:   "fetcher",
		Short: "Serve function packages to the runners of this node, fetched from the registry by digest with a ticket",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := textlogger.NewLogger(textlogger.NewConfig(textlogger.Verbosity(verbosity)))
			return fetcher.Run(logr.NewContext(cmd.Context(), log), cfg)
		},
	}
	bindFetcherFlags(cmd.Flags(), &cfg)
	cmd.Flags().IntVarP(&verbosity, "v", "v", 0, "log verbosity: 1 logs every package served")
	return cmd
}

func bindFetcherFlags(f *pflag.FlagSet, cfg *fetcher.Config) {
	f.StringVar(&cfg.ListenAddr, "listen", cfg.ListenAddr, "address serving packages, /healthz and /metrics")
	f.StringVar(&cfg.CredentialsDir, "credentials-dir", cfg.CredentialsDir, "files of the Secret faas-packages: username, password, ticketKey (and registry, plainHTTP for another registry)")
	f.StringVar(&cfg.Registry, "registry", "", "registry host:port[/path], skipping the Service (default: the credentials' registry file, else the ClusterIP of --registry-service)")
	f.BoolVar(&cfg.PlainHTTP, "plain-http", cfg.PlainHTTP, "talk plain HTTP to --registry")
	f.StringVar(&cfg.RegistryService, "registry-service", cfg.RegistryService, "Service of the registry, in --namespace")
	f.StringVar(&cfg.Namespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace of --registry-service (default $POD_NAMESPACE)")
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig path to read the Service with (default: in-cluster)")
	f.StringVar(&cfg.CacheDir, "cache-dir", cfg.CacheDir, "the fetcher's own cache directory, emptied at start")
	f.Var(&quantity{&cfg.CacheMaxBytes}, "cache-max-bytes", "bytes of packages cached, e.g. 2Gi; those served least recently are evicted beyond")
	f.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", cfg.ReadHeaderTimeout, "bound of reading a request's headers")
	f.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "how long an idle connection is kept")
	f.DurationVar(&cfg.FetchTimeout, "fetch-timeout", cfg.FetchTimeout, "bound of fetching one package from the registry on a miss")
	f.DurationVar(&cfg.SendTimeout, "send-timeout", cfg.SendTimeout, "bound of writing one answer once the package is at hand")
	f.DurationVar(&cfg.ResolveTimeout, "resolve-timeout", cfg.ResolveTimeout, "bound of reading the registry Service")
	f.DurationVar(&cfg.RegistryDialTimeout, "registry-dial-timeout", cfg.RegistryDialTimeout, "bound of connecting to the registry")
	f.DurationVar(&cfg.RegistryResponseHeaderTimeout, "registry-response-header-timeout", cfg.RegistryResponseHeaderTimeout, "bound of waiting for the registry's answer headers")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "bound of answering the requests in flight at exit")
}

// quantity is an int64 flag written as a Kubernetes quantity (2Gi, 500M).
type quantity struct{ v *int64 }

func (q *quantity) String() string {
	if q.v == nil {
		return ""
	}
	return resource.NewQuantity(*q.v, resource.BinarySI).String()
}

func (q *quantity) Set(s string) error {
	v, err := resource.ParseQuantity(s)
	if err != nil {
		return err
	}
	n, ok := v.AsInt64()
	if !ok || n <= 0 {
		return fmt.Errorf("%s: not a positive number of bytes", s)
	}
	*q.v = n
	return nil
}

func (*quantity) Type() string { return "quantity" }
