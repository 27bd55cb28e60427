package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/minifaas/minifaas/internal/cli/portforward"
)

// The gateway's Service, as config/gateway installs it.
const (
	gatewayNamespace = "faas-system"
	gatewayService   = "faas-gateway"
	gatewayPort      = 8000
	// GatewayEnv names the environment variable with the gateway's URL.
	GatewayEnv = "FAAS_GATEWAY"
)

// gatewayURL finds the gateway: the --gateway flag, then $FAAS_GATEWAY,
// then a port-forward to svc/faas-gateway, which close ends. how says
// which was used, for -v.
func (a *app) gatewayURL(ctx context.Context, flag string) (base, how string, close func(), err error) {
	noop := func() {}
	if flag != "" {
		u, err := parseGatewayURL(flag)
		if err != nil {
			return "", "", noop, codeErrorf(ExitUsage, "--gateway %q: %v", flag, err)
		}
		return u, "--gateway", noop, nil
	}
	if env := a.env.Getenv(GatewayEnv); env != "" {
		u, err := parseGatewayURL(env)
		if err != nil {
			return "", "", noop, codeErrorf(ExitUsage, "$%s %q: %v", GatewayEnv, env, err)
		}
		return u, "$" + GatewayEnv, noop, nil
	}
	conn, err := a.connect()
	if err != nil {
		return "", "", noop, err
	}
	f, err := portforward.Open(ctx, conn.Config, conn.Clientset, portforward.Target{
		Namespace: gatewayNamespace, Service: gatewayService, Port: gatewayPort,
	})
	switch {
	case errors.Is(err, portforward.ErrNoService):
		return "", "", noop, codeErrorf(ExitUnreachable,
			"the gateway is not installed: no Service %s in %s (kubectl apply --server-side -k config/gateway), or pass --gateway URL",
			gatewayService, gatewayNamespace)
	case errors.Is(err, portforward.ErrNoReadyPod):
		return "", "", noop, codeErrorf(ExitUnreachable,
			"the gateway has no ready pod (kubectl -n %s get pods shows why); or pass --gateway URL", gatewayNamespace)
	case err != nil:
		if code, msg := explain(err); code == ExitUnreachable || code == ExitInterrupted {
			return "", "", noop, withCode(code, errors.New(msg))
		}
		return "", "", noop, codeErrorf(ExitUnreachable,
			"cannot port-forward to the gateway (svc/%s in %s): %v; pass --gateway URL or set %s", gatewayService, gatewayNamespace, err, GatewayEnv)
	}
	how = fmt.Sprintf("port-forward 127.0.0.1:%d to pod %s/%s", f.LocalPort, gatewayNamespace, f.Pod)
	return "http://127.0.0.1:" + strconv.Itoa(int(f.LocalPort)), how, f.Close, nil
}

// parseGatewayURL checks an http(s) URL and drops a trailing slash.
func parseGatewayURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("want an http:// or https:// URL like http://localhost:8000")
	}
	u.Path = trimSlash(u.Path)
	return u.String(), nil
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}
