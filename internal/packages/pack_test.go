package packages

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var sampleTree = map[string]string{
	"handler.py":                  "def handle(req):\n    return 'hi'\n",
	"lib/util.py":                 "X = 1\n",
	"lib/data/words.txt":          "a\nb\n",
	"empty/":                      "",
	"zero":                        "",
	"a-b":                         "sorts between a and a/",
	"requirements.txt":            "requests==2.32.3\n",
	"deep/er/and/deeper/file.txt": "deep",
}

func TestPackRoundTrip(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, sampleTree)
	if err := os.Chmod(filepath.Join(src, "lib/util.py"), 0o700); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	desc, err := Pack(&buf, src, "code", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if desc.Size != int64(buf.Len()) || desc.MediaType != MediaTypeLayer || desc.Annotations["org.opencontainers.image.title"] != "code" {
		t.Errorf("descriptor = %+v for %d bytes", desc, buf.Len())
	}
	if err := desc.Digest.Validate(); err != nil || desc.Digest.Algorithm().FromBytes(buf.Bytes()) != desc.Digest {
		t.Errorf("digest %s does not match the bytes written", desc.Digest)
	}
	dest := filepath.Join(t.TempDir(), "dest")
	if err := Unpack(&buf, dest, Limits{}); err != nil {
		t.Fatal(err)
	}
	got, want := readTree(t, dest), readTree(t, src)
	want["lib/util.py"] = "-rwxr-xr-x " + sampleTree["lib/util.py"] // 0700 packs as 0755
	if len(got) != len(want) {
		t.Errorf("unpacked %d entries, want %d:\n%v\n%v", len(got), len(want), got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestPackIsDeterministic(t *testing.T) {
	pack := func(dir string) []byte {
		var buf bytes.Buffer
		if _, err := Pack(&buf, dir, "code", Limits{}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b := t.TempDir(), t.TempDir()
	writeTree(t, a, sampleTree)
	writeTree(t, b, sampleTree)
	// Other times and write-only mode bits must not change the bytes.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(b, "handler.py"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(b, "zero"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := pack(a)
	if !bytes.Equal(first, pack(a)) {
		t.Error("packing the same folder twice gave different bytes")
	}
	if !bytes.Equal(first, pack(b)) {
		t.Error("packing an equal folder with other times and modes gave different bytes")
	}
	writeTree(t, b, map[string]string{"handler.py": "changed"})
	if bytes.Equal(first, pack(b)) {
		t.Error("a changed file gave the same bytes")
	}
}

func TestPackRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		title string
		lim   Limits
		want  error
	}{
		{"symlink inside", func(t *testing.T, dir string) {
			if err := os.Symlink("handler.py", filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
		}, "code", Limits{}, ErrUnsupportedType},
		{"symlink to outside", func(t *testing.T, dir string) {
			if err := os.Symlink("/etc", filepath.Join(dir, "lib", "etc")); err != nil {
				t.Fatal(err)
			}
		}, "code", Limits{}, ErrUnsupportedType},
		{"fifo", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "code", Limits{}, ErrUnsupportedType},
		{"too large", func(*testing.T, string) {}, "code", Limits{MaxBytes: 20}, ErrTooLarge},
		{"too many entries", func(*testing.T, string) {}, "code", Limits{MaxEntries: 5}, ErrTooManyEntries},
		{"title with slash", func(*testing.T, string) {}, "a/b", Limits{}, ErrInvalidArtifact},
		{"title dot-dot", func(*testing.T, string) {}, "..", Limits{}, ErrInvalidArtifact},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			writeTree(t, src, sampleTree)
			tc.setup(t, src)
			var buf bytes.Buffer
			if _, err := Pack(&buf, src, tc.title, tc.lim); !errors.Is(err, tc.want) {
				t.Fatalf("Pack = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPackWithExclude(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, sampleTree)
	writeTree(t, src, map[string]string{"venv/lib/site.py": "x", "lib/skip.pyc": "bytecode"})
	// What an excluded directory holds is never read: a link there is
	// not refused.
	if err := os.Symlink("/usr/bin/python3", filepath.Join(src, "venv", "python")); err != nil {
		t.Fatal(err)
	}
	var asked []string
	exclude := func(name string, isDir bool) bool {
		asked = append(asked, name)
		return (isDir && name == "venv") || filepath.Ext(name) == ".pyc"
	}
	var buf bytes.Buffer
	desc, err := PackWith(&buf, src, "code", PackOptions{Exclude: exclude})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range asked {
		if name == "venv/lib" || name == "venv/python" {
			t.Errorf("Exclude was asked about %s, under an excluded directory", name)
		}
	}
	dest := filepath.Join(t.TempDir(), "dest")
	if err := Unpack(bytes.NewReader(buf.Bytes()), dest, Limits{}); err != nil {
		t.Fatal(err)
	}
	got := readTree(t, dest)
	if _, ok := got["venv/"]; ok {
		t.Error("the excluded directory was packed")
	}
	if _, ok := got["lib/skip.pyc"]; ok {
		t.Error("the excluded file was packed")
	}
	if got["handler.py"] != "-rw-r--r-- "+sampleTree["handler.py"] {
		t.Errorf("handler.py = %q", got["handler.py"])
	}

	// The same entries as a folder without the excluded ones: the same
	// bytes, and Pack (no options) is PackWith with none.
	plain := t.TempDir()
	writeTree(t, plain, sampleTree)
	var want bytes.Buffer
	plainDesc, err := Pack(&want, plain, "code", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want.Bytes()) || desc.Digest != plainDesc.Digest {
		t.Errorf("excluding gave %s, want the digest of the folder without them, %s", desc.Digest, plainDesc.Digest)
	}

	// Excluded entries do not count against the limits.
	big := t.TempDir()
	writeTree(t, big, map[string]string{"handler.py": "x", "data/blob": strings.Repeat("x", 1000)})
	lim := Limits{MaxBytes: 100}
	if _, err := PackWith(io.Discard, big, "code", PackOptions{Limits: lim}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("PackWith without exclusion = %v, want ErrTooLarge", err)
	}
	if _, err := PackWith(io.Discard, big, "code", PackOptions{Limits: lim, Exclude: func(name string, _ bool) bool { return name == "data" }}); err != nil {
		t.Errorf("PackWith excluding the big folder = %v", err)
	}
}

func TestPackRoot(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, sampleTree)
	var want bytes.Buffer
	wantDesc, err := Pack(&want, src, "deps", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(src)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var got bytes.Buffer
	desc, err := PackRoot(&got, root, "deps", PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) || desc.Digest != wantDesc.Digest {
		t.Errorf("PackRoot gave %s, want Pack's %s", desc.Digest, wantDesc.Digest)
	}

	// Links under the root are refused, saying what they are, whether
	// they point inside or outside it.
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"password": "secret"})
	for name, target := range map[string]string{"in": "handler.py", "out": filepath.Join(outside, "password"), "dir": outside} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, sampleTree)
			if err := os.Symlink(target, filepath.Join(dir, "lib", "link")); err != nil {
				t.Fatal(err)
			}
			r, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, err = PackRoot(io.Discard, r, "deps", PackOptions{})
			if !errors.Is(err, ErrUnsupportedType) || !strings.Contains(err.Error(), "lib/link is a symbolic link") {
				t.Errorf("PackRoot = %v, want ErrUnsupportedType naming lib/link as a symbolic link", err)
			}
		})
	}
}
