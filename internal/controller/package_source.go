package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"

	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/packages"
)

// errInvalidPackage marks what the user must fix: an artifact missing from
// the registry, of the wrong type or layout, or a layer it reuses gone. It
// is reported in the PackageBuilt condition, and looked at again slowly.
var errInvalidPackage = errors.New("invalid package")

// userError wraps err in errInvalidPackage when the user must fix it.
func userError(err error) error {
	if errors.Is(err, packages.ErrInvalidArtifact) || errors.Is(err, errdef.ErrNotFound) ||
		errors.Is(err, packagebuild.ErrMissingBlob) || errors.Is(err, digest.ErrDigestInvalidFormat) ||
		errors.Is(err, digest.ErrDigestUnsupported) || errors.Is(err, digest.ErrDigestInvalidLength) {
		return fmt.Errorf("%w: %w", errInvalidPackage, err)
	}
	return err
}

// sourceArtifact is what the operator needs of a source artifact: its code layer
// and, when the folder has a requirements.txt, its requirements layer.
type sourceArtifact struct {
	code         ocispec.Descriptor
	requirements *ocispec.Descriptor
}

// readSource reads the source artifact d of repo (packagebuild.SourceShape,
// verified against d).
func readSource(ctx context.Context, repo packages.Source, d string) (sourceArtifact, error) {
	dg, err := digest.Parse(d)
	if err != nil {
		return sourceArtifact{}, userError(err)
	}
	m, err := packagebuild.SourceShape().ReadManifest(ctx, repo, dg)
	if err != nil {
		return sourceArtifact{}, userError(err)
	}
	code, _ := packagebuild.Layer(m, packages.LayerCode)
	out := sourceArtifact{code: code}
	if req, ok := packagebuild.Layer(m, packages.LayerRequirements); ok {
		out.requirements = &req
	}
	return out, nil
}

// dependencyKey keys a dependency build: the same requirements layer, runner
// image and pip settings install the same dependencies, so a new source
// with the same key reuses the last build's layer.
func dependencyKey(requirements digest.Digest, runtimeImage string, pipSettings map[string][]byte) string {
	h := sha256.New()
	io.WriteString(h, "minifaas-deps/v1\x00"+requirements.String()+"\x00"+runtimeImage+"\x00")
	keys := make([]string, 0, len(pipSettings))
	for k := range pipSettings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := sha256.Sum256(pipSettings[k])
		io.WriteString(h, k+"="+hex.EncodeToString(v[:])+"\x00")
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
