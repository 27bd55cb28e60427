package packages

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
)

// maxTrailingBytes bounds what may follow the end of a tar archive inside
// its gzip stream (tar writers pad to a record of up to 10 KiB).
const maxTrailingBytes = 64 << 10

// Unpack extracts the tar+gzip layer read from r into dest, an empty or
// missing directory, within lim.
//
// It treats the archive as hostile: it accepts only regular files and
// directories with canonical relative names (ErrUnsafePath), each once
// (ErrDuplicateEntry), and refuses symlinks, hard links, devices and FIFOs
// (ErrUnsupportedType). Files are created through an os.Root on dest, so
// even a name that got past the checks could not reach outside it. Files
// get mode 0644, or 0755 if any execute bit was set; owners and times are
// not restored. On error dest holds a partial tree: the caller removes it.
func Unpack(r io.Reader, dest string, lim Limits) error {
	if err := emptyDir(dest); err != nil {
		return err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer root.Close()
	if err := unpackLayer(r, root, newBudget(lim)); err != nil {
		return fmt.Errorf("unpack into %s: %w", dest, err)
	}
	return nil
}

// unpackLayer extracts one layer into root, charging b.
func unpackLayer(r io.Reader, root *os.Root, b *budget) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	defer gz.Close()
	// One gzip member: a layer is one stream.
	gz.Multistream(false)
	tr := tar.NewReader(gz)
	seen := make(map[string]struct{})
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		if err := unpackEntry(tr, hdr, root, b, seen); err != nil {
			return err
		}
	}
	// Read the rest of the gzip stream, so its checksum is verified and
	// bytes after the archive's end are bounded.
	n, err := io.Copy(io.Discard, io.LimitReader(gz, maxTrailingBytes+1))
	if err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if n > maxTrailingBytes {
		return fmt.Errorf("%w: more than %d bytes after the end of the archive", ErrInvalidArtifact, maxTrailingBytes)
	}
	return nil
}

func unpackEntry(tr *tar.Reader, hdr *tar.Header, root *os.Root, b *budget, seen map[string]struct{}) error {
	var isDir bool
	switch hdr.Typeflag {
	case tar.TypeDir:
		isDir = true
	case tar.TypeReg:
	default:
		return fmt.Errorf("%q (type %q): %w", hdr.Name, hdr.Typeflag, ErrUnsupportedType)
	}
	name, err := entryName(hdr.Name, isDir)
	if err != nil {
		return err
	}
	if _, dup := seen[name]; dup {
		return fmt.Errorf("%q: %w", name, ErrDuplicateEntry)
	}
	seen[name] = struct{}{}
	size := hdr.Size
	if isDir {
		size = 0
	}
	if err := b.entry(name, size); err != nil {
		return err
	}
	if isDir {
		if err := root.MkdirAll(name, 0o755); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	if parent := path.Dir(name); parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	mode := os.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		mode = 0o755
	}
	// O_EXCL: never write through an existing file, whatever made it.
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	n, err := io.Copy(f, tr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("%s: %d bytes, header says %d: %w", name, n, hdr.Size, ErrInvalidArtifact)
	}
	return nil
}

// emptyDir makes dir if it is missing and fails if it holds anything.
func emptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("unpack: %w", err)
	}
	if len(names) > 0 {
		return fmt.Errorf("unpack: %s is not empty", dir)
	}
	return nil
}
