package packagebuild_test

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/registrytest"
)

func TestMain(m *testing.M) { registrytest.Main(m) }

// writeTree makes files under dir from slash-separated names to contents.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readFiles returns the regular files under dir by slash-separated name.
func readFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// layerOf packs files as a layer titled title.
func layerOf(t *testing.T, title string, files map[string]string) packages.Layer {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	var buf bytes.Buffer
	desc, err := packages.Pack(&buf, dir, title, packages.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return packages.Layer{Descriptor: desc, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}}
}

// pushArtifact pushes an artifact of type with layers to dst.
func pushArtifact(t *testing.T, dst content.Storage, artifactType string, layers ...packages.Layer) ocispec.Descriptor {
	t.Helper()
	desc, err := packages.Push(t.Context(), dst, artifactType, layers, nil)
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// pushSource pushes a source artifact of code and, unless empty,
// requirements.
func pushSource(t *testing.T, dst content.Storage, code map[string]string, requirements string) digest.Digest {
	t.Helper()
	layers := []packages.Layer{layerOf(t, packages.LayerCode, code)}
	if requirements != "" {
		layers = append(layers, layerOf(t, packages.LayerRequirements, map[string]string{packages.RequirementsFile: requirements}))
	}
	return pushArtifact(t, dst, packages.ArtifactTypeSource, layers...).Digest
}
