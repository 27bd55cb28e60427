package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/minifaas/minifaas/internal/cli/kubeconn"
	"github.com/minifaas/minifaas/internal/cli/project"
)

func TestExplain(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/apis/faas.example.com/v1alpha1/namespaces/default/functions/x",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	gr := schema.GroupResource{Group: "faas.example.com", Resource: "functions"}
	for _, tc := range []struct {
		name string
		err  error
		code int
		msg  string
	}{
		{"coded", codeErrorf(ExitNotFound, "no function"), ExitNotFound, "no function"},
		{"interrupted", fmt.Errorf("wait: %w", context.Canceled), ExitInterrupted, "interrupted"},
		{"no kubeconfig", fmt.Errorf("%w: set KUBECONFIG", kubeconn.ErrNoConfig), ExitUnreachable,
			"no Kubernetes cluster configured: set KUBECONFIG"},
		{"no CRD", fmt.Errorf("get Function: %w", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "faas.example.com", Kind: "Function"}}),
			ExitUnreachable, "the Function CRD is not installed in this cluster (no match for kind Function): install it with kubectl apply -k config/crd"},
		{"unreachable", fmt.Errorf("get Function: %w", refused), ExitUnreachable,
			"cannot reach the Kubernetes API server at https://10.0.0.1:6443: connection refused (is the cluster up? check --kubeconfig and --context)"},
		{"forbidden", apierrors.NewForbidden(gr, "x", errors.New("no RBAC")), ExitError,
			`not allowed: functions.faas.example.com "x" is forbidden: no RBAC`},
		{"invalid file", fmt.Errorf("%w: handler.py is empty", project.ErrInvalid), ExitUsage, "invalid settings: handler.py is empty"},
		{"other", errors.New("boom"), ExitError, "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := explain(tc.err)
			if code != tc.code || msg != tc.msg {
				t.Errorf("explain = %d %q, want %d %q", code, msg, tc.code, tc.msg)
			}
		})
	}
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	h := newHarness(t)
	out := h.mustRun("--help")
	for _, want := range []string{"Exit codes:", "3    no such function", "4    invoke:", "6    cannot reach the platform"} {
		if !strings.Contains(out, want) {
			t.Errorf("faas --help lacks %q", want)
		}
	}
	if code := h.run("nope"); code != ExitUsage || h.err.String() != "error: unknown command \"nope\" for \"faas\" (see 'faas --help')\n" {
		t.Errorf("unknown command: exit %d, %q", code, h.err)
	}
	if code := h.run("list", "--nope"); code != ExitUsage || h.err.String() != "error: unknown flag: --nope (see 'faas list --help')\n" {
		t.Errorf("unknown flag: exit %d, %q", code, h.err)
	}
	if code := h.run("describe"); code != ExitUsage || h.err.String() != "error: the function's name is missing (see 'faas describe --help')\n" {
		t.Errorf("missing argument: exit %d, %q", code, h.err)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if out := h.mustRun("completion", shell); len(out) < 100 {
			t.Errorf("completion %s: %q", shell, out)
		}
	}
}
