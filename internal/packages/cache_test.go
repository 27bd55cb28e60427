package packages

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// writeCacheEntry writes a cache entry in Fetch's layout into dir and returns
// its key.
func writeCacheEntry(t *testing.T, dir, manifest string) digest.Digest {
	t.Helper()
	writeTree(t, dir, map[string]string{ManifestFile: manifest, RootDir + "/code/handler.py": "x"})
	return digest.FromString(manifest)
}

func TestCachePutGet(t *testing.T) {
	c := Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	d := digest.FromString(`{"m":1}`)
	if _, ok, err := c.Get(d); ok || err != nil {
		t.Fatalf("Get on an empty cache = %v, %v", ok, err)
	}
	staged, err := c.TempDir()
	if err != nil {
		t.Fatal(err)
	}
	writeCacheEntry(t, staged, `{"m":1}`)
	root, err := c.Put(d, staged)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Get(d)
	if !ok || err != nil || got != root {
		t.Fatalf("Get = %q, %v, %v; want %q", got, ok, err, root)
	}
	if data, err := os.ReadFile(filepath.Join(root, "code", "handler.py")); err != nil || string(data) != "x" {
		t.Errorf("cached file = %q, %v", data, err)
	}
	if _, err := os.Stat(staged); !os.IsNotExist(err) {
		t.Errorf("staging dir still there after Put: %v", err)
	}
	// Runners (another user) open entries by digest but list nothing.
	for p, want := range map[string]os.FileMode{
		c.Dir:                            0o711,
		filepath.Join(c.Dir, "sha256"):   0o711,
		filepath.Dir(root):               0o755,
		filepath.Join(c.Dir, stagingDir): 0o700,
	} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("mode of %s = %v, want %v", p, info.Mode().Perm(), want)
		}
	}
}

func TestCacheRefuses(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	t.Run("manifest of another digest", func(t *testing.T) {
		staged, _ := c.TempDir()
		writeCacheEntry(t, staged, `{"m":"real"}`)
		wrong := digest.FromString(`{"m":"claimed"}`)
		if _, err := c.Put(wrong, staged); !errors.Is(err, ErrInvalidArtifact) {
			t.Fatalf("Put = %v, want ErrInvalidArtifact", err)
		}
		if _, ok, _ := c.Get(wrong); ok {
			t.Error("the refused entry is visible")
		}
	})
	t.Run("no root", func(t *testing.T) {
		staged, _ := c.TempDir()
		writeTree(t, staged, map[string]string{ManifestFile: "m"})
		if _, err := c.Put(digest.FromString("m"), staged); err == nil {
			t.Fatal("Put of an entry without root succeeded")
		}
	})
	t.Run("malformed keys", func(t *testing.T) {
		for _, d := range []digest.Digest{"", "sha256:../../etc", "sha256/../x", "md5:d41d8cd98f00b204e9800998ecf8427e"} {
			if _, _, err := c.Get(d); err == nil {
				t.Errorf("Get(%q) succeeded", d)
			}
			if _, err := c.Put(d, t.TempDir()); err == nil {
				t.Errorf("Put(%q) succeeded", d)
			}
		}
	})
	t.Run("tampered entry", func(t *testing.T) {
		staged, _ := c.TempDir()
		d := writeCacheEntry(t, staged, `{"m":"t"}`)
		if _, err := c.Put(d, staged); err != nil {
			t.Fatal(err)
		}
		p, _ := c.path(d)
		if err := os.WriteFile(filepath.Join(p, ManifestFile), []byte(`{"m":"u"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := c.Get(d); ok || !errors.Is(err, ErrInvalidArtifact) {
			t.Fatalf("Get of a tampered entry = %v, %v", ok, err)
		}
	})
}

// TestCacheFillIsAtomic holds a fetch half-way through writing its entry
// and checks that the entry is not visible, then lets several fillers race
// for the same digest: all get the same root, none sees a partial entry,
// and no staging directory is left.
func TestCacheFillIsAtomic(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	const manifest = `{"m":"atomic"}`
	d := digest.FromString(manifest)
	halfway, resume := make(chan struct{}), make(chan struct{})
	fetch := func(_ context.Context, dir string) error {
		writeTree(t, dir, map[string]string{ManifestFile: manifest})
		halfway <- struct{}{}
		<-resume
		writeTree(t, dir, map[string]string{RootDir + "/code/handler.py": "x"})
		return nil
	}
	var g errgroup.Group
	roots := make([]string, 4)
	g.Go(func() (err error) {
		roots[0], err = c.Fill(t.Context(), d, fetch)
		return err
	})
	<-halfway
	if _, ok, err := c.Get(d); ok || err != nil {
		t.Fatalf("Get while the entry is being written = %v, %v", ok, err)
	}
	for i := 1; i < len(roots); i++ {
		g.Go(func() (err error) {
			roots[i], err = c.Fill(t.Context(), d, func(ctx context.Context, dir string) error {
				return fetch(ctx, dir)
			})
			return err
		})
	}
	// Let every filler that got to fetch finish; the others returned
	// the first entry if it was already in place (none is yet).
	go func() {
		for range halfway {
			resume <- struct{}{}
		}
	}()
	resume <- struct{}{}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	close(halfway)
	for _, r := range roots {
		if r != roots[0] {
			t.Errorf("roots = %v, want all equal", roots)
		}
	}
	if got := listDir(t, filepath.Join(c.Dir, stagingDir)); len(got) != 0 {
		t.Errorf("staging holds %v after Fill", got)
	}
	if data, err := os.ReadFile(filepath.Join(roots[0], "code", "handler.py")); err != nil || string(data) != "x" {
		t.Errorf("cached file = %q, %v", data, err)
	}
}

func TestCacheFillRemovesFailedFetch(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	boom := errors.New("boom")
	_, err := c.Fill(t.Context(), digest.FromString("x"), func(_ context.Context, dir string) error {
		writeTree(t, dir, map[string]string{ManifestFile: "x", RootDir + "/code/partial": "p"})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Fill = %v, want boom", err)
	}
	if got := listDir(t, filepath.Join(c.Dir, stagingDir)); len(got) != 0 {
		t.Errorf("staging holds %v after a failed fetch", got)
	}
	if _, ok, _ := c.Get(digest.FromString("x")); ok {
		t.Error("a failed fetch is cached")
	}
}
