package pool

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/minifaas/minifaas/internal/runnerapi"
)

type compiledCode map[string][]byte

func (c compiledCode) Compiled(key string) []byte { return c[key] }

func TestSpecializeSendsCompiledCodeAfterTheSpecialization(t *testing.T) {
	spec := &Spec{Body: []byte(`{"function":"ns/fn","code":"x"}`), Hash: "h", CodeKey: "k"}
	tests := []struct {
		name       string
		compiled   CompiledCode
		spec       *Spec
		wantBody   string
		wantLength string
	}{
		{"compiled", compiledCode{"k": []byte("PYC")}, spec, string(spec.Body) + "PYC", strconv.Itoa(len(spec.Body))},
		{"not compiled yet", compiledCode{}, spec, string(spec.Body), ""},
		{"compiling ahead off", nil, spec, string(spec.Body), ""},
		{"no code key (a package, nodejs)", compiledCode{"": []byte("PYC")}, &Spec{Body: spec.Body, Hash: "h"}, string(spec.Body), ""},
		{"together over a pod's body limit", compiledCode{"k": make([]byte, runnerapi.DefaultMaxBodyBytes-len(spec.Body)+1)}, spec, string(spec.Body), ""},
		{"together at a pod's body limit", compiledCode{"k": []byte(strings.Repeat("P", runnerapi.DefaultMaxBodyBytes-len(spec.Body)))}, spec,
			string(spec.Body) + strings.Repeat("P", runnerapi.DefaultMaxBodyBytes-len(spec.Body)), strconv.Itoa(len(spec.Body))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotBody, gotLength string
			var gotContentLength int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				gotBody, gotLength, gotContentLength = string(b), r.Header.Get(runnerapi.SpecLengthHeader), r.ContentLength
				_, _ = io.WriteString(w, `{"specializeMicros":1}`)
			}))
			defer srv.Close()
			host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			p, _ := strconv.Atoi(port)
			c := Claimer{Client: srv.Client(), AdminPort: p, Compiled: tt.compiled}
			if err := c.Specialize(context.Background(), Pod{IP: host}, "tok", tt.spec); err != nil {
				t.Fatal(err)
			}
			if len(gotBody) > 64 || len(tt.wantBody) > 64 {
				if gotBody != tt.wantBody || gotLength != tt.wantLength {
					t.Errorf("sent %d bytes with %s %q; want %d with %q", len(gotBody), runnerapi.SpecLengthHeader, gotLength, len(tt.wantBody), tt.wantLength)
				}
				return
			}
			if gotBody != tt.wantBody || gotLength != tt.wantLength || gotContentLength != int64(len(tt.wantBody)) {
				t.Errorf("sent %q (Content-Length %d) with %s %q; want %q with %q",
					gotBody, gotContentLength, runnerapi.SpecLengthHeader, gotLength, tt.wantBody, tt.wantLength)
			}
		})
	}
}
