package packagebuild

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Defaults of ClientOptions.
const (
	DefaultDialTimeout           = 5 * time.Second
	DefaultResponseHeaderTimeout = 30 * time.Second
)

// ClientOptions bound a registry client's connections. A whole transfer is
// bounded by the caller's context: a 100 MiB blob may take a while.
type ClientOptions struct {
	// DialTimeout bounds connecting to the registry; 0 means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds waiting for a response's headers; 0
	// means DefaultResponseHeaderTimeout.
	ResponseHeaderTimeout time.Duration
}

// NewClient returns an oras client that answers the registry at addr
// (host[:port][/path]) with creds, and no other host: a redirect to a blob
// store that asks for credentials does not get them. 5xx and 429 answers,
// dial timeouts and connection resets are retried with backoff, within the
// request's context. Share one client between the repositories of a
// registry: it remembers the auth scheme, saving a 401 round trip per
// request.
func NewClient(addr string, creds Credentials, opts ClientOptions) *auth.Client {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.ResponseHeaderTimeout <= 0 {
		opts.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   opts.DialTimeout,
		ResponseHeaderTimeout: opts.ResponseHeaderTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}
	host, _, _ := strings.Cut(addr, "/")
	return &auth.Client{
		Client: &http.Client{Transport: retry.NewTransport(transport)},
		Cache:  auth.NewCache(),
		Credential: auth.StaticCredential(host, auth.Credential{
			Username: creds.Username, Password: creds.Password,
		}),
	}
}

// NewRepository returns repository (e.g. faas/default/hello) of the
// registry at addr (host[:port][/path]) through client, over plain HTTP if
// plainHTTP.
func NewRepository(addr, repository string, client remote.Client, plainHTTP bool) (*remote.Repository, error) {
	repo, err := remote.NewRepository(addr + "/" + repository)
	if err != nil {
		return nil, fmt.Errorf("repository %s of registry %s: %w", repository, addr, err)
	}
	repo.Client = client
	repo.PlainHTTP = plainHTTP
	return repo, nil
}

// RegistryRepository returns repository of the platform's registry at addr
// (its Service's ClusterIP:port), over plain HTTP, with a new client of
// creds and the default timeouts. For a registry served over TLS, set the
// result's PlainHTTP to false.
func RegistryRepository(addr, repository string, creds Credentials) (*remote.Repository, error) {
	return NewRepository(addr, repository, NewClient(addr, creds, ClientOptions{}), true)
}
