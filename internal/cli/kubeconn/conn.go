package kubeconn

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// Flags are kubectl's connection flags.
type Flags struct {
	Kubeconfig string
	Context    string
	Namespace  string
}

// AddFlags registers the flags on fs, named as kubectl names them.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)")
	fs.StringVar(&f.Context, "context", "", "the kubeconfig context to use (default: its current context)")
	fs.StringVarP(&f.Namespace, "namespace", "n", "", "the namespace of the functions (default: the context's, else default)")
}

// Conn is a connection to one cluster and namespace.
type Conn struct {
	// Config is the REST config, for port-forwarding.
	Config *rest.Config
	// Namespace is the one the flags and the kubeconfig chose.
	Namespace string
	// Host is the API server's address, for messages.
	Host string
	// Client reads and writes Functions and the objects made for them.
	Client client.WithWatch
	// Clientset streams pod logs and watches pods.
	Clientset kubernetes.Interface
}

// dialTimeout bounds connecting to the API server, so an unreachable one
// fails in seconds; requests themselves are bounded by their context,
// as log streams and watches must be able to last.
const dialTimeout = 10 * time.Second

// Connect loads the kubeconfig and builds the clients. It does not talk
// to the API server: the first request does.
func (f *Flags) Connect(userAgent string) (*Conn, error) {
	if f.Kubeconfig != "" {
		if _, err := os.Stat(f.Kubeconfig); err != nil {
			return nil, fmt.Errorf("%w: --kubeconfig %s: %w", ErrNoConfig, f.Kubeconfig, err)
		}
	}
	cc := f.ClientConfig()
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, fmt.Errorf("%w: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config", ErrNoConfig)
		}
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("read the namespace from kubeconfig: %w", err)
	}
	cfg.UserAgent = userAgent
	cfg.QPS, cfg.Burst = 50, 100
	cfg.Dial = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("register core types: %w", err)
	}
	if err := faasv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("register Function types: %w", err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("create client for %s: %w", cfg.Host, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create clientset for %s: %w", cfg.Host, err)
	}
	return &Conn{Config: cfg, Namespace: ns, Host: cfg.Host, Client: c, Clientset: cs}, nil
}

// ClientConfig is the kubeconfig the flags select, loaded lazily.
func (f *Flags) ClientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.Context}
	overrides.Context.Namespace = f.Namespace
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}
