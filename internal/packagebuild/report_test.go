package packagebuild_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/minifaas/minifaas/internal/packagebuild"
)

func TestReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "termination-log")
	res := &packagebuild.Result{Digest: "sha256:" + strings.Repeat("a", 64), DepsLayer: "sha256:" + strings.Repeat("b", 64)}
	if err := packagebuild.Report(path, res, nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if strings.Count(string(raw), "\n") != 1 || !strings.HasSuffix(string(raw), "\n") {
		t.Errorf("result %q is not one line", raw)
	}
	var got packagebuild.Result
	if err := json.Unmarshal(raw, &got); err != nil || got != *res {
		t.Errorf("result %q parses to %+v, %v", raw, got, err)
	}
	if string(raw) != `{"digest":"sha256:`+strings.Repeat("a", 64)+`","depsLayer":"sha256:`+strings.Repeat("b", 64)+`"}`+"\n" {
		t.Errorf("result = %s", raw)
	}

	failure := errors.New("fetch source: resolve sha256:x:\nnot found\n" + strings.Repeat("é", 5000))
	if err := packagebuild.Report(path, nil, failure); !errors.Is(err, failure) {
		t.Errorf("Report = %v, want the failure back", err)
	}
	raw, _ = os.ReadFile(path)
	if strings.ContainsRune(string(raw), '\n') || len(raw) > 4096 || !utf8.Valid(raw) || !strings.HasPrefix(string(raw), "fetch source: resolve sha256:x: ; not found") {
		t.Errorf("failure message %.80q… (%d bytes) is not one valid line within 4096 bytes", raw, len(raw))
	}
}

func TestLoadCredentials(t *testing.T) {
	dir := t.TempDir()
	if _, err := packagebuild.LoadCredentials(dir); err == nil {
		t.Error("LoadCredentials of an empty folder succeeded")
	}
	writeTree(t, dir, map[string]string{"username": "faas", "password": "s3cret\n"})
	got, err := packagebuild.LoadCredentials(dir)
	if err != nil || got != (packagebuild.Credentials{Username: "faas", Password: "s3cret"}) {
		t.Errorf("LoadCredentials = %+v, %v", got, err)
	}
	writeTree(t, dir, map[string]string{"password": ""})
	if _, err := packagebuild.LoadCredentials(dir); err == nil {
		t.Error("LoadCredentials with an empty password succeeded")
	}
}
