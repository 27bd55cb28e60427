package cli

import (
	"context"
	"io"
	"net/http"
	"time"

	"oras.land/oras-go/v2/content"

	"github.com/minifaas/minifaas/internal/cli/kubeconn"
)

// Env is what the commands get from outside: streams, environment,
// clock and clients. Main's caller fills it; tests fill it with fakes.
type Env struct {
	In          io.Reader
	Out, ErrOut io.Writer
	// Getenv reads an environment variable (FAAS_GATEWAY).
	Getenv func(string) string
	// Now is the clock, for ages.
	Now func() time.Time
	// Connect, when set, replaces connecting with the kubectl flags.
	Connect func(flags *kubeconn.Flags) (*kubeconn.Conn, error)
	// Registry, when set, replaces reaching the platform's package
	// registry: it returns where to push the artifacts of repository
	// (tests: an in-memory store).
	Registry func(ctx context.Context, repository string) (content.Storage, error)
	// HTTP calls the gateway; nil uses a client with no overall timeout
	// (calls may stream) that does not follow redirects.
	HTTP *http.Client
	// PollInterval is how often deploy --wait and delete --wait look.
	PollInterval time.Duration
	// Version is shown by --version and sent as part of the user agent.
	Version string
}

// app is the state the commands share: the environment and the global
// flags, which cobra fills before a command runs.
type app struct {
	env   *Env
	flags kubeconn.Flags
	// conn is made on first use; commands that need no cluster never
	// connect.
	conn *kubeconn.Conn
}

// connect returns the cluster connection the flags select.
func (a *app) connect() (*kubeconn.Conn, error) {
	if a.conn != nil {
		return a.conn, nil
	}
	var err error
	if a.env.Connect != nil {
		a.conn, err = a.env.Connect(&a.flags)
	} else {
		a.conn, err = a.flags.Connect("faas/" + a.env.Version)
	}
	return a.conn, err
}

// namespace is -n, else the kubeconfig context's, else "default"; it
// works without a cluster, for invoke --gateway.
func (a *app) namespace() string {
	if a.flags.Namespace != "" {
		return a.flags.Namespace
	}
	if a.env.Connect != nil { // tests: the fake connection's namespace
		if c, err := a.connect(); err == nil {
			return c.Namespace
		}
		return "default"
	}
	if ns, _, err := a.flags.ClientConfig().Namespace(); err == nil && ns != "" {
		return ns
	}
	return "default"
}

func (a *app) httpClient() *http.Client {
	if a.env.HTTP != nil {
		return a.env.HTTP
	}
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// sleep waits for the poll interval or until ctx ends.
func (a *app) sleep(ctx context.Context) error {
	t := time.NewTimer(a.env.PollInterval)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
