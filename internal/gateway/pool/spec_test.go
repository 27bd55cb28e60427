package pool

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

func TestSpecForAPackageCarriesTheBuiltArtifactNotTheCode(t *testing.T) {
	fn := &faasv1.Function{Spec: faasv1.FunctionSpec{Runtime: faasv1.RuntimePython, Handler: "handle",
		Package: &faasv1.FunctionPackage{Source: "sha256:src", Module: "handler"}}}
	fn.Namespace, fn.Name = "ns", "fn"
	if s := SpecFor(fn); s != nil {
		t.Fatalf("an unbuilt package has a specialization: %s", s.Body)
	}
	fn.Status.Package = &faasv1.PackageStatus{Source: "sha256:src", Digest: "sha256:b1", FetchURL: "http://10.0.0.9:8090/v1/packages/ns/fn/sha256:b1", Ticket: "tk"}
	s := SpecFor(fn)
	if s == nil {
		t.Fatal("no specialization for a built package")
	}
	var got runnerapi.Specialization
	if err := json.Unmarshal(s.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Code != "" || got.Package == nil || *got.Package != (runnerapi.PackageSource{
		URL: fn.Status.Package.FetchURL, Ticket: "tk", Digest: "sha256:b1", Module: "handler"}) {
		t.Errorf("specialization %s", s.Body)
	}
	fn.Status.Package.Digest = "sha256:b2"
	if SpecFor(fn).Hash == s.Hash {
		t.Error("a new build keeps the spec hash: pods of the old one would go on serving")
	}
}

func TestSpecForOffersOnlyInlinePythonCodeToCompileAhead(t *testing.T) {
	code := "def handle(req):\n    return 'hi'\n"
	tests := []struct {
		name    string
		spec    faasv1.FunctionSpec
		wantKey string
	}{
		{"inline python", faasv1.FunctionSpec{Runtime: faasv1.RuntimePython, Handler: "handle", Code: code},
			"sha256 of the code"},
		{"nodejs", faasv1.FunctionSpec{Runtime: faasv1.RuntimeNodeJS, Handler: "handle", Code: "exports.handle = () => 'hi'"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := &faasv1.Function{Spec: tt.spec}
			fn.Namespace, fn.Name = "ns", "fn"
			s := SpecFor(fn)
			if s == nil {
				t.Fatal("no specialization")
			}
			if tt.wantKey == "" {
				if s.CodeKey != "" || s.Code != "" {
					t.Errorf("CodeKey %q for %s", s.CodeKey, tt.name)
				}
				return
			}
			sum := sha256.Sum256([]byte(code))
			if s.CodeKey != hex.EncodeToString(sum[:]) || s.Code != code {
				t.Errorf("CodeKey %q, Code %q", s.CodeKey, s.Code)
			}
		})
	}
}
