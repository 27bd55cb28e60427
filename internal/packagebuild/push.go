package packagebuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/minifaas/minifaas/internal/packages"
)

// ErrMissingBlob: a layer the built artifact reuses is not in the
// repository (e.g. collected since), so it cannot be referenced.
var ErrMissingBlob = errors.New("blob not in the repository")

// PushBuilt is build-push: it reads the source artifact source from repo
// (verified, SourceShape), packs the folder deps is open on (pip's
// --target, opened with OpenDeps; nil, when pip made no folder, counts as
// empty) into a deps layer through a temporary file in tmpDir, and pushes a
// built artifact of the source's code blob, which is not sent again, and
// that deps layer. Nothing outside deps is read: a link under it is an
// error (packages.ErrUnsupportedType). The deps layer may hold what the
// code leaves of packages.DefaultMaxBytes and DefaultMaxEntries, so the
// fetcher accepts the artifact; counting the code reads its blob once.
func PushBuilt(ctx context.Context, repo oras.Target, source digest.Digest, deps *os.Root, tmpDir string) (Result, error) {
	m, err := SourceShape().ReadManifest(ctx, repo, source)
	if err != nil {
		return Result{}, fmt.Errorf("read source: %w", err)
	}
	code, _ := Layer(m, packages.LayerCode)
	codeBytes, codeEntries, err := layerUsage(ctx, repo, code)
	if err != nil {
		return Result{}, fmt.Errorf("read source code: %w", err)
	}
	lim := packages.Limits{MaxBytes: packages.DefaultMaxBytes - codeBytes, MaxEntries: packages.DefaultMaxEntries - codeEntries}
	if lim.MaxBytes < 1 || lim.MaxEntries < 1 {
		return Result{}, fmt.Errorf("%w: the code alone has %d bytes in %d entries", packages.ErrTooLarge, codeBytes, codeEntries)
	}

	if deps == nil {
		empty, cleanup, err := emptyFolder(tmpDir)
		if err != nil {
			return Result{}, err
		}
		defer cleanup()
		deps = empty
	}
	f, err := os.CreateTemp(tmpDir, "deps-*.tar.gz")
	if err != nil {
		return Result{}, fmt.Errorf("deps layer: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	layer, err := packages.PackRoot(f, deps, packages.LayerDeps, packages.PackOptions{Limits: lim})
	if err != nil {
		return Result{}, fmt.Errorf("pack dependencies (the code takes %d of %d bytes, %d of %d entries): %w",
			codeBytes, packages.DefaultMaxBytes, codeEntries, packages.DefaultMaxEntries, err)
	}
	depsLayer := &packages.Layer{Descriptor: layer, Open: func() (io.ReadCloser, error) {
		return os.Open(f.Name())
	}}
	built, err := pushBuilt(ctx, repo, code, depsLayer)
	if err != nil {
		return Result{}, err
	}
	return Result{Digest: built.Digest.String(), DepsLayer: layer.Digest.String()}, nil
}

// emptyFolder opens a new empty folder under tmpDir, the deps folder of a
// build whose pip installed nothing and so made none.
func emptyFolder(tmpDir string) (*os.Root, func(), error) {
	dir, err := os.MkdirTemp(tmpDir, "deps-")
	if err != nil {
		return nil, nil, fmt.Errorf("deps layer: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("deps layer: %w", err)
	}
	return root, func() { root.Close(); os.RemoveAll(dir) }, nil
}

// CodeOnly pushes, to repo, the built artifact of the source artifact
// source's code blob and an existing deps layer (a code-only change: no
// build), or of the code alone if depsLayer is the zero Descriptor (a source
// without requirements). Only a manifest is sent: both blobs must be in repo
// already (ErrMissingBlob). depsLayer needs Digest and Size, e.g. from
// BuiltDepsLayer; its media type and title default to a deps layer's.
func CodeOnly(ctx context.Context, repo oras.Target, source digest.Digest, depsLayer ocispec.Descriptor) (ocispec.Descriptor, error) {
	m, err := SourceShape().ReadManifest(ctx, repo, source)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("read source: %w", err)
	}
	code, _ := Layer(m, packages.LayerCode)
	var deps *packages.Layer
	if depsLayer.Digest != "" {
		d := depsLayer
		if d.MediaType == "" {
			d.MediaType = packages.MediaTypeLayer
		}
		if d.Annotations[ocispec.AnnotationTitle] == "" {
			d.Annotations = map[string]string{ocispec.AnnotationTitle: packages.LayerDeps}
		}
		if title := d.Annotations[ocispec.AnnotationTitle]; title != packages.LayerDeps {
			return ocispec.Descriptor{}, fmt.Errorf("%w: dependencies layer %s titled %q", packages.ErrInvalidArtifact, d.Digest, title)
		}
		deps = &packages.Layer{Descriptor: d, Open: missing(d)}
	}
	return pushBuilt(ctx, repo, code, deps)
}

// BuiltDepsLayer returns the deps layer of the built artifact built, read
// from src, and false if it has none.
func BuiltDepsLayer(ctx context.Context, src packages.Source, built digest.Digest) (ocispec.Descriptor, bool, error) {
	m, err := BuiltShape().ReadManifest(ctx, src, built)
	if err != nil {
		return ocispec.Descriptor{}, false, fmt.Errorf("read built artifact: %w", err)
	}
	d, ok := Layer(m, packages.LayerDeps)
	return d, ok, nil
}

// pushBuilt pushes the built artifact of the code blob, which repo must
// have, and deps, if not nil.
func pushBuilt(ctx context.Context, repo oras.Target, code ocispec.Descriptor, deps *packages.Layer) (ocispec.Descriptor, error) {
	layers := []packages.Layer{{Descriptor: code, Open: missing(code)}}
	if deps != nil {
		layers = append(layers, *deps)
	}
	desc, err := packages.Push(ctx, repo, packages.ArtifactTypeBuilt, layers, nil)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push built artifact: %w", err)
	}
	return desc, nil
}

// missing is the Open of a layer that must already be in the repository:
// packages.Push calls it only when the layer is not.
func missing(d ocispec.Descriptor) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		return nil, fmt.Errorf("layer %s (%s): %w", d.Digest, d.Annotations[ocispec.AnnotationTitle], ErrMissingBlob)
	}
}
