package packagebuild

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"oras.land/oras-go/v2/registry/remote"
)

// connectRetryInterval is how often WaitForRegistry tries again.
const connectRetryInterval = 200 * time.Millisecond

// WaitForRegistry returns once the registry at addr (host[:port][/path])
// answers a ping (GET /v2/) through client, within wait; wait <= 0 does not
// wait. Any answer counts, 401 included: the registry is reachable, and
// the step's own requests report what else is wrong. Connection refused,
// host or network unreachable, and timeouts are tried again every 200 ms:
// a NetworkPolicy implementation may admit a new pod's address only a
// moment after the pod starts, so a build step's first connections can
// fail although nothing is wrong. Other errors end the wait at once.
func WaitForRegistry(ctx context.Context, addr string, client remote.Client, plainHTTP bool, wait time.Duration) error {
	if wait <= 0 {
		return nil
	}
	host, _, _ := strings.Cut(addr, "/")
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return fmt.Errorf("registry %s: %w", addr, err)
	}
	reg.Client = client
	reg.PlainHTTP = plainHTTP
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		err := reg.Ping(wctx)
		if !unreachable(err) {
			return nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("registry %s: %w", addr, ctx.Err())
			}
			return fmt.Errorf("registry %s not reachable within %s: %w", addr, wait, err)
		case <-time.After(connectRetryInterval):
		}
	}
}

// unreachable tells whether err is a failure to reach the registry that
// may pass: refused, unreachable, reset, or timed out.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	var ne net.Error
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
