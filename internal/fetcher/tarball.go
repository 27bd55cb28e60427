package fetcher

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/packages"
)

// writeEntry is what a cache miss writes into the staging directory dir:
// the built artifact d fetched from src (verified, unpacked safely within
// lim, refused unless of packagebuild.BuiltShape before any layer is
// read), then tarFile, the uncompressed tar answered for it. The unpacked
// files are removed once in the tar: the tar is all that is served, and
// both would take twice the disk. packages.RootDir stays, empty.
func writeEntry(ctx context.Context, src packages.Source, d digest.Digest, dir string, lim packages.Limits) error {
	if _, err := packages.Fetch(ctx, packagebuild.BuiltShape().Guard(src, d), d, dir, lim); err != nil {
		return err
	}
	root := filepath.Join(dir, packages.RootDir)
	if err := writeTar(root, filepath.Join(dir, tarFile)); err != nil {
		return fmt.Errorf("package %s: %w", d, err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// writeTar writes the tree under root to path as an uncompressed tar:
// directories and regular files only, canonical relative names (code/...,
// deps/...), parents before children and siblings by name, modes 0755 or
// 0644, the epoch as every time and no owners, so the bytes depend only on
// the tree.
func writeTar(root, path string) (err error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	tw := tar.NewWriter(bw)
	err = fs.WalkDir(r.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || name == "." {
			return err
		}
		return addToTar(tw, r, name, d)
	})
	if err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	return bw.Flush()
}

func addToTar(tw *tar.Writer, r *os.Root, name string, d fs.DirEntry) error {
	hdr := &tar.Header{Name: name, ModTime: time.Unix(0, 0), Mode: 0o644, Typeflag: tar.TypeReg}
	switch {
	case d.IsDir():
		hdr.Name, hdr.Mode, hdr.Typeflag = name+"/", 0o755, tar.TypeDir
		return tw.WriteHeader(hdr)
	case !d.Type().IsRegular():
		// Unpack makes nothing else; refuse rather than answer it.
		return fmt.Errorf("%s (%s): %w", name, d.Type(), packages.ErrUnsupportedType)
	}
	file, err := r.Open(name)
	if err != nil {
		return err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: %w", name, packages.ErrUnsupportedType)
	}
	hdr.Size = info.Size()
	if info.Mode()&0o111 != 0 {
		hdr.Mode = 0o755
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, file, hdr.Size); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: shrank while read", name)
		}
		return err
	}
	return nil
}
