package packagebuild

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// layerUsage reads the layer desc from src, verified, and returns what it
// counts against packages.Limits when unpacked: the bytes of its regular
// files and its number of entries. Nothing is written.
func layerUsage(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor) (int64, int, error) {
	rc, err := src.Fetch(ctx, desc)
	if err != nil {
		return 0, 0, fmt.Errorf("fetch layer %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	vr := content.NewVerifyReader(rc, desc)
	gz, err := gzip.NewReader(vr)
	if err != nil {
		return 0, 0, fmt.Errorf("layer %s: gzip: %w", desc.Digest, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	var size int64
	var entries int
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, fmt.Errorf("layer %s: tar: %w", desc.Digest, err)
		}
		entries++
		if hdr.Typeflag == tar.TypeReg {
			size += hdr.Size
		}
	}
	if _, err := io.Copy(io.Discard, vr); err != nil {
		return 0, 0, fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	if err := vr.Verify(); err != nil {
		return 0, 0, fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	return size, entries, nil
}
