package artifact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/minifaas/minifaas/internal/packages"
)

// Source is a folder packed as the layers of a source artifact, ready to
// push. Close removes the packed code layer.
type Source struct {
	// Code is the folder's layer.
	Code ocispec.Descriptor
	// Requirements is the layer of requirements.txt alone; nil when the
	// folder has none.
	Requirements *ocispec.Descriptor

	codeFile string
	reqs     []byte
}

// Pack packs dir, leaving out what exclude excludes (see
// packages.PackOptions), within lim over the code layer. The code layer is
// written to a temporary file, so nothing is sent before the whole folder
// is known to fit.
func Pack(dir string, exclude func(name string, isDir bool) bool, lim packages.Limits) (*Source, error) {
	f, err := os.CreateTemp("", "faas-package-*.tar.gz")
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	s := &Source{codeFile: f.Name()}
	code, err := packages.PackWith(f, dir, packages.LayerCode, packages.PackOptions{Limits: lim, Exclude: exclude})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Code = code
	info, err := os.Lstat(filepath.Join(dir, packages.RequirementsFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		s.Close()
		return nil, err
	case !info.Mode().IsRegular():
		s.Close()
		return nil, fmt.Errorf("pack %s: %s is not a regular file: %w", dir, packages.RequirementsFile, packages.ErrUnsupportedType)
	}
	var buf bytes.Buffer
	reqs, err := packages.PackWith(&buf, dir, packages.LayerRequirements, packages.PackOptions{
		Limits:  lim,
		Exclude: func(name string, _ bool) bool { return name != packages.RequirementsFile },
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Requirements, s.reqs = &reqs, buf.Bytes()
	return s, nil
}

// Layers are the source's layers, code first.
func (s *Source) Layers() []ocispec.Descriptor {
	l := []ocispec.Descriptor{s.Code}
	if s.Requirements != nil {
		l = append(l, *s.Requirements)
	}
	return l
}

// Close removes the packed code layer.
func (s *Source) Close() {
	if s.codeFile != "" {
		_ = os.Remove(s.codeFile)
		s.codeFile = ""
	}
}

// Pushed is what Push did.
type Pushed struct {
	// Manifest is the source artifact's manifest: its digest is
	// spec.package.source.
	Manifest ocispec.Descriptor
	// LayersSent and BytesSent count the layers dst did not have yet.
	LayersSent int
	BytesSent  int64
}

// Push pushes the layers dst does not have yet and the source manifest
// (packages.ArtifactTypeSource), untagged. The manifest carries no time or
// other annotation of its own: the same folder is the same digest, and
// pushing it again sends nothing but the manifest.
func (s *Source) Push(ctx context.Context, dst content.Storage) (Pushed, error) {
	var p Pushed
	// packages.Push opens a layer only when dst lacks it, one at a time.
	opened := func(size int64) {
		p.LayersSent++
		p.BytesSent += size
	}
	layers := []packages.Layer{{Descriptor: s.Code, Open: func() (io.ReadCloser, error) {
		opened(s.Code.Size)
		return os.Open(s.codeFile)
	}}}
	if s.Requirements != nil {
		layers = append(layers, packages.Layer{Descriptor: *s.Requirements, Open: func() (io.ReadCloser, error) {
			opened(s.Requirements.Size)
			return io.NopCloser(bytes.NewReader(s.reqs)), nil
		}})
	}
	desc, err := packages.Push(ctx, dst, packages.ArtifactTypeSource, layers, nil)
	if err != nil {
		return Pushed{}, err
	}
	p.Manifest = desc
	return p, nil
}
