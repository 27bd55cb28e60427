package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"time"
)

// target is where one call goes; the handler puts it in the request's
// context for the shared ReverseProxy's Rewrite.
type target struct {
	function      string
	addr          string
	path, rawPath string
	// err receives the proxy's transport error, if any.
	err *error
}

type targetKey struct{}

func withTarget(ctx context.Context, t *target) context.Context {
	return context.WithValue(ctx, targetKey{}, t)
}

// newPodTransport is the keep-alive transport to runner pods, shared by
// calls and specializations: a connection warmed to an idle pool pod
// carries its specialization, then the first call.
func newPodTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       60 * time.Second, // below the runner's 75 s
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// newProxy builds the one ReverseProxy all calls share: keep-alive
// connections to pods, streamed answers, X-Forwarded-* set, hop-by-hop
// headers dropped (ReverseProxy does that), transport errors handed back
// to the handler, which answers them as JSON.
func newProxy(transport http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := pr.In.Context().Value(targetKey{}).(*target)
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = t.addr
			pr.Out.URL.Path, pr.Out.URL.RawPath = t.path, t.rawPath
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.Out.Host = t.addr
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Faas-Function", t.function)
		},
		Transport:     transport,
		FlushInterval: -1,
		BufferPool:    newBufferPool(),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			t := r.Context().Value(targetKey{}).(*target)
			*t.err = err
		},
	}
}

// proxyError turns a transport error into the call path's sentinel errors.
func proxyError(err error) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errors.Join(ErrBodyTooLarge, err)
	case errors.Is(err, context.DeadlineExceeded):
		return errors.Join(ErrCallTimeout, err)
	default:
		return errors.Join(ErrUpstream, err)
	}
}
