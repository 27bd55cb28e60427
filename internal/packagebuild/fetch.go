package packagebuild

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/minifaas/minifaas/internal/packages"
)

// FetchSource pulls the source artifact d from src into dest, an empty or
// missing directory, in the layout of packages.Fetch: dest/root/code and,
// if the source has requirements, dest/root/requirements/requirements.txt.
// An artifact that is not a source (SourceShape) is refused before any of
// its layers is read.
func FetchSource(ctx context.Context, src packages.Source, d digest.Digest, dest string) error {
	if _, err := packages.Fetch(ctx, SourceShape().Guard(src, d), d, dest, packages.Limits{}); err != nil {
		return fmt.Errorf("fetch source: %w", err)
	}
	return nil
}
