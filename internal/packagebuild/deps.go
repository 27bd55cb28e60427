package packagebuild

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrUnsafeDeps: the dependencies folder, or a folder on the way to it
// under the work folder, is not a plain directory (a symbolic link, say),
// so build-push refuses to pack it.
var ErrUnsafeDeps = errors.New("unsafe dependencies folder")

// OpenDeps opens the dependencies folder deps (absolute, or relative to
// work) for PushBuilt, without following links. pip's step runs code of
// the requirements' authors (sdists) and shares work with build-push, so
// it may have replaced deps, or a folder between work and deps, by a link
// to what only build-push can read, such as its credentials mount; packing
// through that link would push the credentials into the deps layer. Every
// component of deps under work must therefore be a directory itself, not a
// link to one (ErrUnsafeDeps), and the folder opened must be the one
// checked. work itself is trusted: in a build Job it is the volume's mount
// point, which pip's step cannot replace.
//
// A deps that does not exist gives a nil Root and no error: pip installed
// nothing. Close the Root when done.
func OpenDeps(work, deps string) (*os.Root, error) {
	if work == "" {
		return nil, errors.New("a work folder is required")
	}
	rel := deps
	if filepath.IsAbs(deps) {
		r, err := filepath.Rel(work, deps)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not under the work folder %s", ErrUnsafeDeps, deps, work)
		}
		rel = r
	}
	if !filepath.IsLocal(rel) || rel == "." {
		return nil, fmt.Errorf("%w: %s is not under the work folder %s", ErrUnsafeDeps, deps, work)
	}
	wr, err := os.OpenRoot(work)
	if err != nil {
		return nil, fmt.Errorf("open work folder: %w", err)
	}
	defer wr.Close()

	parts := strings.Split(filepath.ToSlash(rel), "/")
	var last fs.FileInfo
	for i := range parts {
		p := filepath.Join(parts[:i+1]...)
		info, err := wr.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("dependencies folder: %w", err)
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			return nil, fmt.Errorf("%w: %s is a symbolic link, not a directory (pip's step, which runs the requirements' code, made it)",
				ErrUnsafeDeps, filepath.Join(work, p))
		case !info.IsDir():
			return nil, fmt.Errorf("%w: %s is not a directory (%s)", ErrUnsafeDeps, filepath.Join(work, p), info.Mode().Type())
		}
		last = info
	}
	// Root.OpenRoot would follow a link within work: make sure the folder
	// opened is the directory just checked, not one swapped in since.
	root, err := wr.OpenRoot(rel)
	if err != nil {
		return nil, fmt.Errorf("open dependencies folder: %w", err)
	}
	opened, err := root.Stat(".")
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open dependencies folder: %w", err)
	}
	if !os.SameFile(opened, last) {
		root.Close()
		return nil, fmt.Errorf("%w: %s changed while being opened", ErrUnsafeDeps, filepath.Join(work, rel))
	}
	return root, nil
}
