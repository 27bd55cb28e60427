package compiled

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minifaas/minifaas/internal/runnerapi"
)

func TestClientClassifiesTheCompilersAnswers(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        string // the .pyc, or "" for an error
		final       bool   // the error wraps ErrUncompilable
	}{
		{"compiled", 200, runnerapi.CompiledMediaType, "PYC", "PYC", false},
		{"200 of something else is no pyc", 200, "text/html", "<html>", "", false},
		{"syntax error is final", 422, "application/json", `{"error":"SyntaxError: invalid syntax (function.py, line 1)","status":422}`, "", true},
		{"too large is final", 413, "application/json", `{"error":"too large","status":413}`, "", true},
		{"timeout may pass", 503, "application/json", `{"error":"compile timed out","status":503}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = r.Method + " " + r.URL.Path + " " + string(b)
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			pyc, err := Client{HTTP: srv.Client()}.Compile(context.Background(), strings.TrimPrefix(srv.URL, "http://"), "def handle(req): pass")
			if got != "POST "+runnerapi.CompilePath+" def handle(req): pass" {
				t.Errorf("compiler got %q", got)
			}
			if tt.want != "" {
				if err != nil || string(pyc) != tt.want {
					t.Fatalf("Compile = %q, %v; want %q", pyc, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Compile = %q, want an error", pyc)
			}
			if errors.Is(err, ErrUncompilable) != tt.final {
				t.Errorf("error %v: final = %v, want %v", err, !tt.final, tt.final)
			}
		})
	}
}

func TestClientUnreachableCompilerMayPass(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	_, err := Client{HTTP: http.DefaultClient}.Compile(context.Background(), addr, "x = 1")
	if err == nil || errors.Is(err, ErrUncompilable) {
		t.Errorf("Compile to a closed port = %v, want an error that may pass", err)
	}
}
