package packagebuild

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/minifaas/minifaas/internal/packages"
)

// maxManifestBytes bounds a manifest read here; a package's is a few KiB.
const maxManifestBytes = 1 << 20

// Shape is what an artifact of one kind must be: its artifact type, and
// the titles of its layers, each at most once.
type Shape struct {
	ArtifactType string
	// Required layers must be there, Optional ones may; no other title
	// is accepted.
	Required, Optional []string
}

// SourceShape is a package as its author pushed it: code, and
// requirements when the folder has a requirements.txt.
func SourceShape() Shape {
	return Shape{
		ArtifactType: packages.ArtifactTypeSource,
		Required:     []string{packages.LayerCode},
		Optional:     []string{packages.LayerRequirements},
	}
}

// BuiltShape is what runners load: code, and deps when the source had
// requirements.
func BuiltShape() Shape {
	return Shape{
		ArtifactType: packages.ArtifactTypeBuilt,
		Required:     []string{packages.LayerCode},
		Optional:     []string{packages.LayerDeps},
	}
}

// Check accepts a manifest of the shape, or says why not, wrapping
// packages.ErrInvalidArtifact.
func (s Shape) Check(m ocispec.Manifest) error {
	if m.MediaType != ocispec.MediaTypeImageManifest {
		return fmt.Errorf("%w: media type %q, want %q", packages.ErrInvalidArtifact, m.MediaType, ocispec.MediaTypeImageManifest)
	}
	if m.ArtifactType != s.ArtifactType {
		return fmt.Errorf("%w: artifact type %q, want %q", packages.ErrInvalidArtifact, m.ArtifactType, s.ArtifactType)
	}
	seen := make(map[string]bool, len(m.Layers))
	for _, l := range m.Layers {
		title := l.Annotations[ocispec.AnnotationTitle]
		if !slices.Contains(s.Required, title) && !slices.Contains(s.Optional, title) {
			return fmt.Errorf("%w: layer %s titled %q; a %s has only %v", packages.ErrInvalidArtifact, l.Digest, title, s.ArtifactType, append(slices.Clone(s.Required), s.Optional...))
		}
		if seen[title] {
			return fmt.Errorf("%w: two layers titled %q", packages.ErrInvalidArtifact, title)
		}
		seen[title] = true
	}
	for _, title := range s.Required {
		if !seen[title] {
			return fmt.Errorf("%w: no layer titled %q", packages.ErrInvalidArtifact, title)
		}
	}
	return nil
}

// Guard wraps src so that fetching the manifest d fails unless the manifest
// is of the shape: packages.Fetch(ctx, s.Guard(src, d), d, ...) then
// refuses an artifact of another kind before reading any of its layers.
func (s Shape) Guard(src packages.Source, d digest.Digest) packages.Source {
	return guarded{Source: src, shape: s, manifest: d}
}

type guarded struct {
	packages.Source
	shape    Shape
	manifest digest.Digest
}

func (g guarded) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if desc.Digest != g.manifest {
		return g.Source.Fetch(ctx, desc)
	}
	raw, err := readManifest(ctx, g.Source, desc)
	if err != nil {
		return nil, err
	}
	if _, err := g.shape.decode(raw); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	return io.NopCloser(bytes.NewReader(raw)), nil
}

// ReadManifest reads the manifest d from src, verified against d, and
// checks that it is of the shape. It reads no layer.
func (s Shape) ReadManifest(ctx context.Context, src packages.Source, d digest.Digest) (ocispec.Manifest, error) {
	if err := d.Validate(); err != nil {
		return ocispec.Manifest{}, fmt.Errorf("manifest %q: %w", d, err)
	}
	desc, err := src.Resolve(ctx, d.String())
	if err != nil {
		return ocispec.Manifest{}, fmt.Errorf("resolve %s: %w", d, err)
	}
	if desc.Digest != d || desc.MediaType != ocispec.MediaTypeImageManifest {
		return ocispec.Manifest{}, fmt.Errorf("manifest %s: %w: resolved to %s of %s", d, packages.ErrInvalidArtifact, desc.Digest, desc.MediaType)
	}
	raw, err := readManifest(ctx, src, desc)
	if err != nil {
		return ocispec.Manifest{}, err
	}
	m, err := s.decode(raw)
	if err != nil {
		return ocispec.Manifest{}, fmt.Errorf("manifest %s: %w", d, err)
	}
	return m, nil
}

// readManifest reads the bytes of desc, verified against its size and
// digest.
func readManifest(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size <= 0 || desc.Size > maxManifestBytes {
		return nil, fmt.Errorf("manifest %s: %w: %d bytes", desc.Digest, packages.ErrInvalidArtifact, desc.Size)
	}
	raw, err := content.FetchAll(ctx, src, desc)
	if err != nil {
		return nil, fmt.Errorf("fetch manifest %s: %w", desc.Digest, err)
	}
	return raw, nil
}

func (s Shape) decode(raw []byte) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return ocispec.Manifest{}, fmt.Errorf("%w: %w", packages.ErrInvalidArtifact, err)
	}
	if err := s.Check(m); err != nil {
		return ocispec.Manifest{}, err
	}
	return m, nil
}

// Layer returns the layer of m titled title, if any.
func Layer(m ocispec.Manifest, title string) (ocispec.Descriptor, bool) {
	for _, l := range m.Layers {
		if l.Annotations[ocispec.AnnotationTitle] == title {
			return l, true
		}
	}
	return ocispec.Descriptor{}, false
}
