package packages

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/opencontainers/go-digest"
)

// stagingDir is the directory of Cache.Dir where entries are written
// before they are renamed into place; it must be on the same file system.
const stagingDir = "tmp"

// Cache is a node-local cache of fetched packages, keyed by manifest
// digest: Dir/<algorithm>/<hex>/ holds manifest.json and root/, the layout
// Fetch writes. An entry is written in Dir/tmp and renamed into place in
// one step, so a reader sees a whole entry or none, and once in place it is
// never modified. The cache does not fsync: after a crash, clear Dir.
//
// Only a trusted fetcher writes Dir; runners mount it read-only. The
// directories above entries are created 0711, so another user (a runner)
// can open an entry whose digest it knows but not list them; entries are
// 0755, their files 0644 or 0755.
type Cache struct {
	Dir string
}

// path returns the entry of d, after checking that d is a well-formed
// digest, so a key can never name a path outside Dir.
func (c Cache) path(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("cache key %q: %w", d, err)
	}
	return filepath.Join(c.Dir, d.Algorithm().String(), d.Encoded()), nil
}

// Get returns the unpacked root of d (the directory holding one directory
// per layer) and whether it is cached. It checks that the entry's manifest
// still hashes to d.
func (c Cache) Get(d digest.Digest) (string, bool, error) {
	p, err := c.path(d)
	if err != nil {
		return "", false, err
	}
	if err := verifyEntry(d, p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		return "", false, err
	}
	return filepath.Join(p, RootDir), true, nil
}

// TempDir makes an empty directory in the cache's file system, for Fetch
// to write an entry into before Put.
func (c Cache) TempDir() (string, error) {
	if err := os.MkdirAll(c.Dir, 0o711); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	tmp := filepath.Join(c.Dir, stagingDir)
	if err := os.Mkdir(tmp, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("cache: %w", err)
	}
	dir, err := os.MkdirTemp(tmp, "entry-")
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	// MkdirTemp makes it 0700; once renamed into place, runners read it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return dir, nil
}

// Put moves dir, a complete entry in the layout Fetch writes and on the
// cache's file system (see TempDir), into the cache as d, after checking
// that its manifest hashes to d, and returns the entry's root. If d is
// already cached, dir is removed and the cached root returned: entries of
// the same digest are interchangeable. On error dir is left to the caller.
func (c Cache) Put(d digest.Digest, dir string) (string, error) {
	p, err := c.path(d)
	if err != nil {
		return "", err
	}
	if err := verifyEntry(d, dir); err != nil {
		return "", fmt.Errorf("cache put %s: %w", d, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o711); err != nil {
		return "", fmt.Errorf("cache put %s: %w", d, err)
	}
	if err := os.Rename(dir, p); err != nil {
		// rename(2) onto a non-empty directory: another fetcher won.
		if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("cache put %s: %w", d, err)
		}
		if err := verifyEntry(d, p); err != nil {
			return "", fmt.Errorf("cache put %s: %w", d, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("cache put %s: %w", d, err)
		}
	}
	return filepath.Join(p, RootDir), nil
}

// Fill returns the cached root of d, calling fetch to write the entry into
// a staging directory on a miss (e.g. Fetch from a registry). Two callers
// filling the same digest at once both fetch; the first rename wins.
func (c Cache) Fill(ctx context.Context, d digest.Digest, fetch func(ctx context.Context, dir string) error) (string, error) {
	if root, ok, err := c.Get(d); err != nil || ok {
		return root, err
	}
	dir, err := c.TempDir()
	if err != nil {
		return "", err
	}
	root, err := func() (string, error) {
		if err := fetch(ctx, dir); err != nil {
			return "", err
		}
		return c.Put(d, dir)
	}()
	if err != nil {
		if rerr := os.RemoveAll(dir); rerr != nil {
			return "", errors.Join(err, fmt.Errorf("remove staging %s: %w", dir, rerr))
		}
		return "", err
	}
	return root, nil
}

// verifyEntry checks that dir holds a manifest whose digest is d and a
// root directory.
func verifyEntry(d digest.Digest, dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return err
	}
	if got := d.Algorithm().FromBytes(raw); got != d {
		return fmt.Errorf("%w: manifest in %s has digest %s", ErrInvalidArtifact, dir, got)
	}
	info, err := os.Stat(filepath.Join(dir, RootDir))
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%w: %s/%s is not a directory", ErrInvalidArtifact, dir, RootDir)
	}
	return nil
}
