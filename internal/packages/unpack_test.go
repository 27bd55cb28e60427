package packages

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestUnpackRefusesHostileArchives(t *testing.T) {
	// Absolute names point into the test's sandbox, so a write that got
	// through would be seen by the check below, not land in /.
	sandbox := t.TempDir()
	abs := filepath.Join(sandbox, "abs-escaped")
	small := Limits{MaxBytes: 10, MaxEntries: 3}
	tests := []struct {
		name    string
		entries []tarEntry
		lim     Limits
		want    error
	}{
		{"dot-dot", []tarEntry{file("../escaped", "x")}, Limits{}, ErrUnsafePath},
		{"dot-dot inside", []tarEntry{file("a/../../escaped", "x")}, Limits{}, ErrUnsafePath},
		{"dot-dot dir", []tarEntry{dir("../escaped/")}, Limits{}, ErrUnsafePath},
		{"absolute", []tarEntry{file(abs, "x")}, Limits{}, ErrUnsafePath},
		{"not canonical", []tarEntry{file("./a", "x")}, Limits{}, ErrUnsafePath},
		{"double slash", []tarEntry{file("a//b", "x")}, Limits{}, ErrUnsafePath},
		{"symlink", []tarEntry{{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: sandbox}}}, Limits{}, ErrUnsupportedType},
		{"symlink then write through it", []tarEntry{
			{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: sandbox}},
			file("link/escaped", "x"),
		}, Limits{}, ErrUnsupportedType},
		{"hard link", []tarEntry{file("a", "x"), {hdr: tar.Header{Name: "b", Typeflag: tar.TypeLink, Linkname: "a"}}}, Limits{}, ErrUnsupportedType},
		{"hard link outside", []tarEntry{{hdr: tar.Header{Name: "b", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}}, Limits{}, ErrUnsupportedType},
		{"char device", []tarEntry{{hdr: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}}, Limits{}, ErrUnsupportedType},
		{"block device", []tarEntry{{hdr: tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8}}}, Limits{}, ErrUnsupportedType},
		{"fifo", []tarEntry{{hdr: tar.Header{Name: "fifo", Typeflag: tar.TypeFifo}}}, Limits{}, ErrUnsupportedType},
		{"oversized file", []tarEntry{file("big", strings.Repeat("x", 11))}, small, ErrTooLarge},
		{"oversized total", []tarEntry{file("a", "123456"), file("b", "123456")}, small, ErrTooLarge},
		{"too many entries", []tarEntry{file("a", ""), file("b", ""), file("c", ""), file("d", "")}, small, ErrTooManyEntries},
		{"too many directories", []tarEntry{dir("a/"), dir("b/"), dir("c/"), dir("d/")}, small, ErrTooManyEntries},
		{"duplicate file", []tarEntry{file("a", "first"), file("a", "second")}, Limits{}, ErrDuplicateEntry},
		{"duplicate directory", []tarEntry{dir("a/"), dir("a/")}, Limits{}, ErrDuplicateEntry},
		{"file and directory", []tarEntry{file("a", "x"), dir("a/")}, Limits{}, ErrDuplicateEntry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dest := filepath.Join(parent, "dest")
			err := Unpack(bytes.NewReader(tarGz(t, tc.entries...)), dest, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Errorf("Unpack = %v, want %v", err, tc.want)
			}
			// Whatever the error: nothing was written next to dest, nor at the absolute
			// name, and nothing but files and directories inside it.
			if got := listDir(t, parent); !slices.Equal(got, []string{"dest"}) {
				t.Errorf("parent of dest holds %v, want only dest", got)
			}
			if got := listDir(t, sandbox); len(got) != 0 {
				t.Errorf("sandbox holds %v, want nothing", got)
			}
			for name, v := range readTree(t, dest) {
				if strings.HasPrefix(v, "unexpected") {
					t.Errorf("dest holds %s: %s", name, v)
				}
			}
			if tc.name == "duplicate file" {
				if data, err := os.ReadFile(filepath.Join(dest, "a")); err != nil || string(data) != "first" {
					t.Errorf("a = %q, %v; want the first entry kept", data, err)
				}
			}
		})
	}
}

func TestUnpackAccepts(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		want    map[string]string
	}{
		{"implicit parents", []tarEntry{file("a/b/c.py", "c")}, map[string]string{
			"a/": "-rwxr-xr-x", "a/b/": "-rwxr-xr-x", "a/b/c.py": "-rw-r--r-- c",
		}},
		{"modes reduced", []tarEntry{
			{hdr: tar.Header{Name: "run", Typeflag: tar.TypeReg, Mode: 0o4777}, body: "#!"},
			{hdr: tar.Header{Name: "data", Typeflag: tar.TypeReg, Mode: 0o666, Uid: 0, Uname: "root"}, body: "d"},
		}, map[string]string{"run": "-rwxr-xr-x #!", "data": "-rw-r--r-- d"}},
		{"empty", nil, map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "dest")
			if err := Unpack(bytes.NewReader(tarGz(t, tc.entries...)), dest, Limits{}); err != nil {
				t.Fatal(err)
			}
			got := readTree(t, dest)
			if len(got) != len(tc.want) {
				t.Errorf("tree = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestUnpackRefusesNonEmptyDestination(t *testing.T) {
	dest := t.TempDir()
	writeTree(t, dest, map[string]string{"old": "x"})
	if err := Unpack(bytes.NewReader(tarGz(t, file("a", "x"))), dest, Limits{}); err == nil {
		t.Fatal("Unpack into a non-empty directory succeeded")
	}
}

func TestUnpackRefusesGarbage(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "dest")
	if err := Unpack(strings.NewReader("not gzip"), dest, Limits{}); err == nil {
		t.Fatal("Unpack of garbage succeeded")
	}
}
