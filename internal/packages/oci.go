package packages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

const (
	// maxManifestBytes bounds the manifest Fetch reads: a package's has a
	// few layers and annotations, far below this.
	maxManifestBytes = 1 << 20
	// reproducibleCreated is the manifest's creation time unless the caller
	// sets one: the same layers then make the same manifest digest, so
	// pushing an unchanged package again stores nothing new.
	reproducibleCreated = "1970-01-01T00:00:00Z"
	// ManifestFile and RootDir are the layout Fetch writes into its
	// destination: the manifest's bytes, and one directory per layer,
	// named by the layer's title, under RootDir.
	ManifestFile = "manifest.json"
	RootDir      = "root"
)

// Layer is a layer to push: its descriptor (from Pack) and how to read its
// bytes. Open is called only if the registry does not have the blob yet.
type Layer struct {
	Descriptor ocispec.Descriptor
	Open       func() (io.ReadCloser, error)
}

// Push pushes the layers that dst does not have yet, then an OCI image
// manifest of artifactType listing them, and returns the manifest's
// descriptor. Nothing is tagged: the artifact is addressed by the returned
// digest only. A layer dst already has (e.g. the dependencies layer of a
// code-only change) is not read or sent again.
func Push(ctx context.Context, dst content.Storage, artifactType string, layers []Layer, annotations map[string]string) (ocispec.Descriptor, error) {
	if artifactType == "" {
		return ocispec.Descriptor{}, fmt.Errorf("push: %w: empty artifact type", ErrInvalidArtifact)
	}
	descs := make([]ocispec.Descriptor, 0, len(layers))
	for _, l := range layers {
		descs = append(descs, l.Descriptor)
	}
	// Refuse what Fetch would refuse, before anything is sent.
	if err := checkLayers(descs); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push: %w", err)
	}
	for _, l := range layers {
		if err := pushBlob(ctx, dst, l); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("push layer %s: %w", l.Descriptor.Digest, err)
		}
	}
	ann := maps.Clone(annotations)
	if ann == nil {
		ann = make(map[string]string, 1)
	}
	if _, ok := ann[ocispec.AnnotationCreated]; !ok {
		ann[ocispec.AnnotationCreated] = reproducibleCreated
	}
	desc, err := oras.PackManifest(ctx, dst, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		Layers:              descs,
		ManifestAnnotations: ann,
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push manifest: %w", err)
	}
	return desc, nil
}

func pushBlob(ctx context.Context, dst content.Storage, l Layer) error {
	ok, err := dst.Exists(ctx, l.Descriptor)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	rc, err := l.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	// The registry checks the digest of what it receives before it
	// commits the blob.
	if err := dst.Push(ctx, l.Descriptor, rc); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return err
	}
	return nil
}

// Source is what Fetch reads from: an oras remote.Repository (with the
// caller's client and credentials) or any store that resolves a digest.
type Source interface {
	content.Fetcher
	content.Resolver
}

// Fetch pulls the package whose manifest has digest d from src into dest,
// an empty or missing directory: the manifest's bytes as dest/manifest.json
// and each layer unpacked into dest/root/<title>. It never resolves a tag.
//
// Every blob is verified against its descriptor's size and digest (the
// manifest against d): a layer is unpacked while it streams, and a
// mismatch found at its end fails Fetch, so nothing in dest may be used
// unless Fetch returned nil; on error the caller removes dest. lim bounds
// the unpacked size and entries of all layers together.
func Fetch(ctx context.Context, src Source, d digest.Digest, dest string, lim Limits) (ocispec.Manifest, error) {
	if err := d.Validate(); err != nil {
		return ocispec.Manifest{}, fmt.Errorf("fetch %q: %w", d, err)
	}
	desc, err := src.Resolve(ctx, d.String())
	if err != nil {
		return ocispec.Manifest{}, fmt.Errorf("resolve %s: %w", d, err)
	}
	if desc.Digest != d || desc.MediaType != ocispec.MediaTypeImageManifest || desc.Size <= 0 || desc.Size > maxManifestBytes {
		return ocispec.Manifest{}, fmt.Errorf("fetch %s: %w: manifest %s of %s, %d bytes", d, ErrInvalidArtifact, desc.Digest, desc.MediaType, desc.Size)
	}
	raw, err := content.FetchAll(ctx, src, desc)
	if err != nil {
		return ocispec.Manifest{}, fmt.Errorf("fetch manifest %s: %w", d, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return ocispec.Manifest{}, fmt.Errorf("fetch %s: %w: %w", d, ErrInvalidArtifact, err)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest {
		return ocispec.Manifest{}, fmt.Errorf("fetch %s: %w: media type %q", d, ErrInvalidArtifact, m.MediaType)
	}
	if err := checkLayers(m.Layers); err != nil {
		return ocispec.Manifest{}, fmt.Errorf("fetch %s: %w", d, err)
	}
	if err := emptyDir(dest); err != nil {
		return ocispec.Manifest{}, err
	}
	if err := os.WriteFile(filepath.Join(dest, ManifestFile), raw, 0o644); err != nil {
		return ocispec.Manifest{}, fmt.Errorf("fetch %s: %w", d, err)
	}
	if err := os.Mkdir(filepath.Join(dest, RootDir), 0o755); err != nil {
		return ocispec.Manifest{}, fmt.Errorf("fetch %s: %w", d, err)
	}
	root, err := os.OpenRoot(filepath.Join(dest, RootDir))
	if err != nil {
		return ocispec.Manifest{}, fmt.Errorf("fetch %s: %w", d, err)
	}
	defer root.Close()
	b := newBudget(lim)
	// Bound the bytes read, not only those written: a layer's tar stream is
	// its files plus at most about 2 KiB of headers per entry, and gzip
	// adds far less than 1% to incompressible data.
	var compressed int64
	for _, l := range m.Layers {
		compressed += l.Size
	}
	if maxCompressed := b.lim.MaxBytes + b.lim.MaxBytes/100 + 2048*int64(b.lim.MaxEntries); compressed > maxCompressed {
		return ocispec.Manifest{}, fmt.Errorf("fetch %s: %w: layers of %d bytes, more than %d", d, ErrTooLarge, compressed, maxCompressed)
	}
	for _, l := range m.Layers {
		if err := fetchLayer(ctx, src, l, root, b); err != nil {
			return ocispec.Manifest{}, fmt.Errorf("fetch %s: layer %s: %w", d, l.Digest, err)
		}
	}
	return m, nil
}

func fetchLayer(ctx context.Context, src content.Fetcher, l ocispec.Descriptor, root *os.Root, b *budget) error {
	title := l.Annotations[ocispec.AnnotationTitle]
	if err := root.Mkdir(title, 0o755); err != nil {
		return err
	}
	sub, err := root.OpenRoot(title)
	if err != nil {
		return err
	}
	defer sub.Close()
	rc, err := src.Fetch(ctx, l)
	if err != nil {
		return err
	}
	defer rc.Close()
	vr := content.NewVerifyReader(rc, l)
	if err := unpackLayer(vr, sub, b); err != nil {
		// A tampered blob usually breaks gzip or tar first: say so
		// rather than report a hostile archive.
		if _, derr := io.Copy(io.Discard, vr); derr == nil {
			if verr := vr.Verify(); verr != nil {
				return verr
			}
		}
		return err
	}
	// The blob's end: whatever the unpacker did not need must still be
	// read for the digest to be checked.
	if _, err := io.Copy(io.Discard, vr); err != nil {
		return err
	}
	return vr.Verify()
}

// checkLayers accepts the layers of a package: tar+gzip, each with a
// distinct valid title, their sizes positive.
func checkLayers(layers []ocispec.Descriptor) error {
	if len(layers) == 0 {
		return fmt.Errorf("%w: no layers", ErrInvalidArtifact)
	}
	titles := make(map[string]struct{}, len(layers))
	for _, l := range layers {
		if l.MediaType != MediaTypeLayer {
			return fmt.Errorf("layer %s: %w: media type %q", l.Digest, ErrInvalidArtifact, l.MediaType)
		}
		if err := l.Digest.Validate(); err != nil {
			return fmt.Errorf("layer %q: %w: %w", l.Digest, ErrInvalidArtifact, err)
		}
		if l.Size <= 0 {
			return fmt.Errorf("layer %s: %w: size %d", l.Digest, ErrInvalidArtifact, l.Size)
		}
		title := l.Annotations[ocispec.AnnotationTitle]
		if err := validTitle(title); err != nil {
			return err
		}
		if _, dup := titles[title]; dup {
			return fmt.Errorf("layer title %q: %w", title, ErrDuplicateEntry)
		}
		titles[title] = struct{}{}
	}
	return nil
}
