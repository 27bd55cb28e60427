package fetcher

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/minifaas/minifaas/internal/packages"
)

func TestWriteTar(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"code/handler.py": "h", "code/a.py": "a", "code/a/b.py": "b", "deps/bin/tool": "#!/bin/sh\n",
	})
	if err := os.Chmod(filepath.Join(root, "deps/bin/tool"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "deps", "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "p.tar")
	if err := writeTar(root, p); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"code/ 755", "code/a/ 755", "code/a/b.py 644 b", "code/a.py 644 a", "code/handler.py 644 h",
		"deps/ 755", "deps/bin/ 755", "deps/bin/tool 755 #!/bin/sh\n", "deps/empty/ 755",
	}
	if got := untar(t, data); !slices.Equal(got, want) {
		t.Errorf("tar = %q, want %q", got, want)
	}

	// The bytes depend only on the tree.
	again := filepath.Join(t.TempDir(), "p.tar")
	if err := writeTar(root, again); err != nil {
		t.Fatal(err)
	}
	if data2, _ := os.ReadFile(again); string(data2) != string(data) {
		t.Error("two tars of one tree differ")
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "code", "link")); err != nil {
		t.Fatal(err)
	}
	if err := writeTar(root, filepath.Join(t.TempDir(), "p.tar")); !errors.Is(err, packages.ErrUnsupportedType) {
		t.Errorf("writeTar of a tree with a symlink = %v, want ErrUnsupportedType", err)
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{fmt.Errorf("resolve: %w", errdef.ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("fetch: %w: artifact type", packages.ErrInvalidArtifact), http.StatusUnprocessableEntity},
		{fmt.Errorf("fetch: %w", packages.ErrTooLarge), http.StatusUnprocessableEntity},
		{fmt.Errorf("layer: %w", content.ErrMismatchedDigest), http.StatusUnprocessableEntity},
		{&url.Error{Op: "Get", URL: "http://r", Err: context.DeadlineExceeded}, http.StatusGatewayTimeout},
		{&url.Error{Op: "Get", URL: "http://r", Err: errors.New("connection refused")}, http.StatusBadGateway},
		{&errcode.ErrorResponse{StatusCode: http.StatusUnauthorized}, http.StatusBadGateway},
		{fmt.Errorf("%w: get Service", errRegistryUnavailable), http.StatusBadGateway},
		{&os.PathError{Op: "write", Path: "/cache", Err: errors.New("no space left on device")}, http.StatusInternalServerError},
	}
	for _, tc := range tests {
		if got := statusOf(tc.err); got != tc.want {
			t.Errorf("statusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
