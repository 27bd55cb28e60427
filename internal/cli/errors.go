package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/minifaas/minifaas/internal/cli/kubeconn"
	"github.com/minifaas/minifaas/internal/cli/project"
)

// explain turns an error into its exit code and the one line that says
// what went wrong and what to do. Every command's errors end here.
func explain(err error) (int, string) {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code, err.Error()
	case errors.Is(err, context.Canceled):
		return ExitInterrupted, "interrupted"
	case errors.Is(err, kubeconn.ErrNoConfig):
		return ExitUnreachable, err.Error()
	case meta.IsNoMatchError(err):
		return ExitUnreachable, "the Function CRD is not installed in this cluster (no match for kind Function): install it with kubectl apply -k config/crd"
	case apierrors.IsInvalid(err):
		return ExitUsage, "invalid settings: " + invalidCauses(err)
	case errors.Is(err, project.ErrInvalid):
		return ExitUsage, err.Error()
	case apierrors.IsUnauthorized(err):
		return ExitError, "the API server did not accept your credentials: " + apiMessage(err) + " (check the kubeconfig's user)"
	case apierrors.IsForbidden(err):
		return ExitError, "not allowed: " + apiMessage(err)
	}
	if host, cause, ok := unreachable(err); ok {
		return ExitUnreachable, fmt.Sprintf("cannot reach the Kubernetes API server at %s: %s (is the cluster up? check --kubeconfig and --context)", host, cause)
	}
	return ExitError, err.Error()
}

// invalidCauses lists the fields the API server refused, with its words.
func invalidCauses(err error) string {
	var se apierrors.APIStatus
	if !errors.As(err, &se) || se.Status().Details == nil || len(se.Status().Details.Causes) == 0 {
		return apiMessage(err)
	}
	var parts []string
	for _, c := range se.Status().Details.Causes {
		msg := c.Message
		if c.Field != "" && !strings.HasPrefix(msg, c.Field) {
			msg = c.Field + ": " + msg
		}
		parts = append(parts, msg)
	}
	return strings.Join(parts, "; ")
}

func apiMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) && se.Status().Message != "" {
		return se.Status().Message
	}
	return err.Error()
}

// unreachable tells whether err is a failure to connect to the API
// server, and returns its address and the cause.
func unreachable(err error) (host, cause string, ok bool) {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return "", "", false
	}
	var oe *net.OpError
	var de *net.DNSError
	if !errors.As(ue.Err, &oe) && !errors.As(ue.Err, &de) && !ue.Timeout() {
		return "", "", false
	}
	host = ue.URL
	if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
		host = u.Scheme + "://" + u.Host
	}
	cause = ue.Err.Error()
	if oe != nil && oe.Err != nil {
		cause = oe.Err.Error()
	}
	if de != nil {
		cause = "no such host " + de.Name
	}
	return host, cause, true
}
