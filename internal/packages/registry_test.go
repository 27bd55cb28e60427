package packages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/content"

	"github.com/minifaas/minifaas/internal/registrytest"
)

// The registry these tests push to and fetch from is the one the platform
// ships (internal/registrytest), each test with its own storage root.
const testArtifact = "application/vnd.minifaas.package.v1"

func TestMain(m *testing.M) { registrytest.Main(m) }

// blobPath is where the filesystem driver of reg keeps a blob's bytes.
func blobPath(reg *registrytest.Registry, d digest.Digest) string {
	e := d.Encoded()
	return filepath.Join(reg.Root, "docker", "registry", "v2", "blobs", d.Algorithm().String(), e[:2], e, "data")
}

// countingLayer packs dir and counts how often the pusher reads it.
type countingLayer struct {
	Layer
	opened int
}

func packLayer(t *testing.T, dir, title string) *countingLayer {
	t.Helper()
	var buf bytes.Buffer
	desc, err := Pack(&buf, dir, title, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	l := &countingLayer{}
	l.Descriptor = desc
	l.Open = func() (io.ReadCloser, error) {
		l.opened++
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}
	return l
}

func TestPushFetchRoundTrip(t *testing.T) {
	reg := registrytest.Start(t)
	repo := reg.Repository(t, "faas/default/hello")
	code, deps := t.TempDir(), t.TempDir()
	writeTree(t, code, map[string]string{"handler.py": "import six\n", "lib/util.py": "X = 1\n"})
	writeTree(t, deps, map[string]string{"six.py": "# six\n", "six-1.16.0.dist-info/METADATA": "Name: six\n"})
	codeLayer, depsLayer := packLayer(t, code, "code"), packLayer(t, deps, "deps")
	ann := map[string]string{"org.opencontainers.image.source": "hello"}

	desc, err := Push(t.Context(), repo, testArtifact, []Layer{codeLayer.Layer, depsLayer.Layer}, ann)
	if err != nil {
		t.Fatal(err)
	}
	if codeLayer.opened != 1 || depsLayer.opened != 1 {
		t.Errorf("layers read %d and %d times, want once each", codeLayer.opened, depsLayer.opened)
	}

	dest := filepath.Join(t.TempDir(), "pkg")
	m, err := Fetch(t.Context(), repo, desc.Digest, dest, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != testArtifact || m.Annotations["org.opencontainers.image.source"] != "hello" || len(m.Layers) != 2 {
		t.Errorf("manifest = %+v", m)
	}
	for title, src := range map[string]string{"code": code, "deps": deps} {
		got, want := readTree(t, filepath.Join(dest, RootDir, title)), readTree(t, src)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", title, got, want)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dest, ManifestFile))
	if err != nil || digest.FromBytes(raw) != desc.Digest {
		t.Errorf("manifest.json does not hash to %s: %v", desc.Digest, err)
	}

	t.Run("same layers, same digest", func(t *testing.T) {
		again, err := Push(t.Context(), repo, testArtifact, []Layer{codeLayer.Layer, depsLayer.Layer}, ann)
		if err != nil {
			t.Fatal(err)
		}
		if again.Digest != desc.Digest {
			t.Errorf("pushing the same package again gave %s, want %s", again.Digest, desc.Digest)
		}
		if codeLayer.opened != 1 || depsLayer.opened != 1 {
			t.Errorf("layers the registry has were read again: %d, %d", codeLayer.opened, depsLayer.opened)
		}
	})

	t.Run("code-only change reuses the dependencies layer", func(t *testing.T) {
		writeTree(t, code, map[string]string{"handler.py": "import six  # changed\n"})
		newCode := packLayer(t, code, "code")
		changed, err := Push(t.Context(), repo, testArtifact, []Layer{newCode.Layer, depsLayer.Layer}, ann)
		if err != nil {
			t.Fatal(err)
		}
		if changed.Digest == desc.Digest || newCode.opened != 1 || depsLayer.opened != 1 {
			t.Errorf("digest %s (was %s), code read %d, deps read %d times; want a new digest, deps not sent again",
				changed.Digest, desc.Digest, newCode.opened, depsLayer.opened)
		}
	})

	t.Run("cache fill", func(t *testing.T) {
		c := Cache{Dir: t.TempDir()}
		fetches := 0
		fill := func() string {
			root, err := c.Fill(t.Context(), desc.Digest, func(ctx context.Context, dir string) error {
				fetches++
				_, err := Fetch(ctx, repo, desc.Digest, dir, Limits{})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return root
		}
		root := fill()
		if fill() != root || fetches != 1 {
			t.Errorf("second fill fetched again (%d fetches)", fetches)
		}
		if data, err := os.ReadFile(filepath.Join(root, "deps", "six.py")); err != nil || string(data) != "# six\n" {
			t.Errorf("cached six.py = %q, %v", data, err)
		}
	})
}

func TestFetchRefusesTamperedBlobs(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{"handler.py": strings.Repeat("def handle(req):\n    return 1\n", 50)})
	// Each case changes the stored bytes of one blob and keeps its size:
	// the registry serves them as they are.
	tests := []struct {
		name   string
		blob   func(manifest, layer digest.Digest) digest.Digest
		tamper func(data []byte) []byte
	}{
		{"layer", func(_, layer digest.Digest) digest.Digest { return layer }, func(data []byte) []byte {
			data[len(data)/2] ^= 0x01
			return data
		}},
		// Still valid JSON (the registry parses manifests it serves),
		// with another creation time.
		{"manifest", func(manifest, _ digest.Digest) digest.Digest { return manifest }, func(data []byte) []byte {
			return bytes.Replace(data, []byte(reproducibleCreated), []byte("1971-01-01T00:00:00Z"), 1)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := registrytest.Start(t)
			repo := reg.Repository(t, "faas/default/tampered")
			layer := packLayer(t, src, "code")
			desc, err := Push(t.Context(), repo, testArtifact, []Layer{layer.Layer}, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := blobPath(reg, tc.blob(desc.Digest, layer.Descriptor.Digest))
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			tampered := tc.tamper(bytes.Clone(data))
			if bytes.Equal(tampered, data) || len(tampered) != len(data) {
				t.Fatal("the tamper changed nothing, or the size")
			}
			if err := os.WriteFile(p, tampered, 0o644); err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(t.TempDir(), "pkg")
			_, err = Fetch(t.Context(), repo, desc.Digest, dest, Limits{})
			if !errors.Is(err, content.ErrMismatchedDigest) {
				t.Fatalf("Fetch of a tampered %s = %v, want %v", tc.name, err, content.ErrMismatchedDigest)
			}
		})
	}
}

func TestFetchRefusesByDigestOnly(t *testing.T) {
	reg := registrytest.Start(t)
	repo := reg.Repository(t, "faas/default/missing")
	dest := filepath.Join(t.TempDir(), "pkg")
	for _, d := range []digest.Digest{"latest", "sha256:abc", ""} {
		if _, err := Fetch(t.Context(), repo, d, dest, Limits{}); err == nil {
			t.Errorf("Fetch(%q) succeeded", d)
		}
	}
	if _, err := Fetch(t.Context(), repo, digest.FromString("absent"), dest, Limits{}); err == nil {
		t.Error("Fetch of an absent digest succeeded")
	}
}

func TestFetchEnforcesLimits(t *testing.T) {
	reg := registrytest.Start(t)
	repo := reg.Repository(t, "faas/default/big")
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a": strings.Repeat("x", 600), "b": strings.Repeat("y", 600)})
	layer := packLayer(t, src, "code")
	other := packLayer(t, src, "deps")
	desc, err := Push(t.Context(), repo, testArtifact, []Layer{layer.Layer, other.Layer}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each layer fits in 1500 bytes, both together do not.
	_, err = Fetch(t.Context(), repo, desc.Digest, filepath.Join(t.TempDir(), "pkg"), Limits{MaxBytes: 1500})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Fetch = %v, want ErrTooLarge", err)
	}
}
