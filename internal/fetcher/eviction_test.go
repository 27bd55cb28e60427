package fetcher

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestEvictsLeastRecentlyServed(t *testing.T) {
	files := func(c string) map[string]string { return map[string]string{"handler.py": strings.Repeat(c, 10_000)} }
	// Every package's tar has the same size; two fit, three do not.
	root := t.TempDir()
	writeTree(t, filepath.Join(root, "code"), files("x"))
	size := tarSize(t, root)
	f := startFetcher(t, func(c *Config) { c.CacheMaxBytes = 2*size + size/2 })

	pkgs := map[string]digest.Digest{}
	for _, name := range []string{"a", "b", "c"} {
		pkgs[name] = f.pushBuilt(t, "default", name, files(name), nil)
	}
	get := func(name string) (registryRequests int) {
		t.Helper()
		f.reg.Reset()
		resp, body := f.getPackage(t, "default", name, pkgs[name])
		if resp.StatusCode != http.StatusOK || int64(len(body)) != size {
			t.Fatalf("GET %s = %d, %d bytes, want 200, %d", name, resp.StatusCode, len(body), size)
		}
		return len(f.reg.Requests())
	}
	get("a")
	get("b")
	if get("a") != 0 {
		t.Fatal("a was not cached")
	}
	get("c") // b, served least recently, goes
	want := []string{pkgs["a"].String(), pkgs["c"].String()}
	slices.Sort(want)
	if got := f.cached(t); !slices.Equal(got, want) {
		t.Errorf("cached %v, want a and c %v", got, want)
	}
	if n, total := f.store.index.len(); n != 2 || total != 2*size {
		t.Errorf("index of %d entries, %d bytes; want 2, %d", n, total, 2*size)
	}
	if trash, _ := os.ReadDir(filepath.Join(f.cfg.CacheDir, evictingDir)); len(trash) != 0 {
		t.Errorf("evicted entries left: %v", trash)
	}
	if get("a") != 0 || get("c") != 0 {
		t.Error("a or c fetched again")
	}
	if get("b") == 0 {
		t.Error("b answered without the registry after its eviction")
	}
}

// tarSize is the size of writeTar's tar of root.
func tarSize(t *testing.T, root string) int64 {
	t.Helper()
	p := filepath.Join(t.TempDir(), "p.tar")
	if err := writeTar(root, p); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}
