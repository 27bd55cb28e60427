package fetcher

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/minifaas/minifaas/internal/runnerapi"
)

// benchPackage pushes a 20 MB package: a small handler and 400 files of
// 50 KB of incompressible dependencies, and warms the cache with it.
func benchPackage(b *testing.B) (*testFetcher, *http.Request, int64) {
	f := startFetcher(b, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	deps := map[string]string{}
	for i := range 400 {
		buf := make([]byte, 50_000)
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		deps[fmt.Sprintf("lib%02d/mod%03d.py", i%20, i)] = string(buf)
	}
	d := f.pushBuilt(b, "default", "big", map[string]string{"handler.py": "def handle(req):\n    return 'hi'\n"}, deps)
	req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, f.srv.URL+packagePath("default", "big", d), nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", runnerapi.AuthorizationScheme+ticket(b, "default", "big", d))
	resp, body := f.get(b, http.MethodGet, packagePath("default", "big", d), req.Header.Get("Authorization"))
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("warming GET = %d %s", resp.StatusCode, body)
	}
	return f, req, int64(len(body))
}

// BenchmarkServeWarm20MB is a runner's GET of a 20 MB package the node
// has cached, read to its end.
func BenchmarkServeWarm20MB(b *testing.B) {
	f, req, size := benchPackage(b)
	client := f.srv.Client()
	b.SetBytes(size)
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("read %d of %d bytes: %v", n, size, err)
		}
	}
}

// BenchmarkServeAndUnpackWarm20MB adds what a runner does with the answer:
// unpack it into an empty directory, on disk and, as an emptyDir of medium
// Memory would be, on tmpfs.
func BenchmarkServeAndUnpackWarm20MB(b *testing.B) {
	f, req, size := benchPackage(b)
	client := f.srv.Client()
	dirs := map[string]string{"disk": b.TempDir()}
	if shm, err := os.MkdirTemp("/dev/shm", "fetcher-bench-"); err == nil {
		b.Cleanup(func() { os.RemoveAll(shm) })
		dirs["tmpfs"] = shm
	}
	for _, fsName := range []string{"disk", "tmpfs"} {
		dir, ok := dirs[fsName]
		if !ok {
			continue
		}
		b.Run(fsName, func(b *testing.B) {
			b.SetBytes(size)
			dest := filepath.Join(dir, "pkg")
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				err = unpackTar(resp.Body, dest)
				resp.Body.Close()
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := os.RemoveAll(dest); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// unpackTar is a runner's unpack, trusting the fetcher's canonical tar.
func unpackTar(r io.Reader, dest string) error {
	tr := tar.NewReader(r)
	if err := os.Mkdir(dest, 0o755); err != nil {
		return err
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dest, hdr.Name)
		if hdr.Typeflag == tar.TypeDir {
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			continue
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(hdr.Mode))
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}
