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
	return PackWith(w, dir, name, PackOptions{Limits: lim})
}

// PackOptions are what PackWith takes beyond the folder and the title.
type PackOptions struct {
	// Limits bound the unpacked size and the number of entries packed.
	Limits Limits
	// Exclude, when set, is asked about every entry under the folder, by
	// its slash-separated path relative to the folder ("lib/util.py") and
	// whether it is a directory. An entry it excludes is not packed and
	// does not count against Limits; an excluded directory is not walked
	// at all, so what it holds (links of a virtualenv, say) is never read
	// or refused. It must be a pure function of its arguments for the
	// output to stay deterministic.
	Exclude func(name string, isDir bool) bool
}

// PackWith is Pack with options: the same deterministic layer of the
// entries of dir that opts.Exclude leaves in. dir itself is opened as
// os.OpenRoot opens it, following links in its own path; when a hostile
// party may have replaced dir with a link, open it without following
// links and use PackRoot.
func PackWith(w io.Writer, dir, name string, opts PackOptions) (ocispec.Descriptor, error) {
	if err := validTitle(name); err != nil {
		return ocispec.Descriptor{}, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("open package folder: %w", err)
	}
	defer root.Close()
	return PackRoot(w, root, name, opts)
}

// PackRoot is PackWith of the folder root is open on: the caller chose how
// to open it (e.g. through a parent Root, refusing links), and nothing
// outside it is read. Links under it are refused as Pack refuses them.
func PackRoot(w io.Writer, root *os.Root, name string, opts PackOptions) (ocispec.Descriptor, error) {
	if err := validTitle(name); err != nil {
		return ocispec.Descriptor{}, err
	}
	dir := root.Name()
	entries, err := listEntries(root, newBudget(opts.Limits), opts.Exclude)
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
// that exclude (if set) leaves in, sorted by name, within b.
func listEntries(root *os.Root, b *budget, exclude func(string, bool) bool) ([]packEntry, error) {
	var entries []packEntry
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if exclude != nil && exclude(p, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
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
			return fmt.Errorf("%s is %s: %w", p, describeType(info.Mode()), ErrUnsupportedType)
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

// describeType names what an entry that is neither a regular file nor a
// directory is, for an error a user reads.
func describeType(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	default:
		return fmt.Sprintf("of type %s", m.Type())
	}
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
