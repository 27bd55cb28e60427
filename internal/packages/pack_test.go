package packages

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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
