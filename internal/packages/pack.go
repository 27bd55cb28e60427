package packages

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MediaTypeLayer is the media type of every layer of a package.
const MediaTypeLayer = ocispec.MediaTypeImageLayerGzip

type packEntry struct {
	name string
	dir  bool
	size int64
	exec bool
}

// Pack writes the folder dir to w as a tar+gzip layer titled name (the
// directory Fetch unpacks it into) and returns the layer's descriptor.
//
// The output is deterministic for a given Go version: entries sorted by
// name, times zeroed, no owners, modes reduced to 0644/0755, an empty gzip
// header. Only regular files and directories are packed; a symlink, device,
// FIFO or socket anywhere under dir is an error (ErrUnsupportedType), so
// nothing outside dir is ever read. lim bounds the unpacked size and the
// number of entries.
func Pack(w io.Writer, dir, name string, lim Limits) (ocispec.Descriptor, error) {
	if err := validTitle(name); err != nil {
		return ocispec.Descriptor{}, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("open package folder: %w", err)
	}
	defer root.Close()

	entries, err := listEntries(root, newBudget(lim))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pack %s: %w", dir, err)
	}

	digester := digest.Canonical.Digester()
	cw := &countingWriter{w: io.MultiWriter(w, digester.Hash())}
	gz := gzip.NewWriter(cw)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		if err := writeEntry(tw, root, e); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("pack %s: %w", dir, err)
		}
	}
	if err := tw.Close(); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := gz.Close(); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pack %s: %w", dir, err)
	}
	return ocispec.Descriptor{
		MediaType:   MediaTypeLayer,
		Digest:      digester.Digest(),
		Size:        cw.n,
		Annotations: map[string]string{ocispec.AnnotationTitle: name},
	}, nil
}

// listEntries walks root without following links and returns its entries
// sorted by name, within b.
func listEntries(root *os.Root, b *budget) ([]packEntry, error) {
	var entries []packEntry
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := b.entry(p, 0); err != nil {
				return err
			}
			entries = append(entries, packEntry{name: p, dir: true})
		case info.Mode().IsRegular():
			if err := b.entry(p, info.Size()); err != nil {
				return err
			}
			entries = append(entries, packEntry{name: p, size: info.Size(), exec: info.Mode()&0o111 != 0})
		default:
			return fmt.Errorf("%s (%s): %w", p, info.Mode().Type(), ErrUnsupportedType)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A directory's name is a prefix of its children's, so it sorts first.
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, nil
}

func writeEntry(tw *tar.Writer, root *os.Root, e packEntry) error {
	// The epoch as every entry's time, no owner: the bytes depend only on
	// names, modes and contents.
	hdr := &tar.Header{Name: e.name, ModTime: time.Unix(0, 0), Mode: 0o644, Typeflag: tar.TypeReg, Size: e.size}
	if e.dir {
		hdr.Name, hdr.Mode, hdr.Typeflag = e.name+"/", 0o755, tar.TypeDir
	} else if e.exec {
		hdr.Mode = 0o755
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	if e.dir {
		return nil
	}
	f, err := root.Open(e.name)
	if err != nil {
		return err
	}
	defer f.Close()
	// The file may have been replaced since the walk: pack only a regular
	// file of the size announced in the header.
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() || info.Size() != e.size {
		return fmt.Errorf("%s: changed while packing", e.name)
	}
	if _, err := io.CopyN(tw, f, e.size); err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
