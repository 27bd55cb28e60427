package project

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minifaas/minifaas/internal/cli/scaffold"
)

func TestExcluded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		isDir bool
		want  bool
	}{
		{"faas.yaml", false, true},
		{"runner", true, true},
		{".git", true, true},
		{".git", false, true}, // a submodule's gitlink file
		{"__pycache__", true, true},
		{".venv", true, true},
		{"node_modules", true, true},
		{"handler.pyc", false, true},
		{"lib/__pycache__", true, true},
		{"lib/.git", true, true},
		{"lib/.venv", true, true},
		{"web/node_modules", true, true},
		{"lib/util.pyc", false, true},

		{"handler.py", false, false},
		{"requirements.txt", false, false},
		{"lib/faas.yaml", false, false}, // only the folder's own
		{"lib/runner", true, false},     // only the top-level copy of the contract
		{"runner", false, false},
		{"runner.py", false, false},
		{"lib", true, false},
		{"data/words.txt", false, false},
		{".gitignore", false, false},
		{".env", false, false},
		{"pyc", true, false},
		{"x.pyc.txt", false, false},
	} {
		if got := Excluded(tc.name, tc.isDir); got != tc.want {
			t.Errorf("Excluded(%q, dir %v) = %v, want %v", tc.name, tc.isDir, got, tc.want)
		}
	}
}

func TestDecide(t *testing.T) {
	const code = "def handle(req):\n    return 1\n"
	scaffolded, err := scaffold.Files("greeter", "python")
	if err != nil {
		t.Fatal(err)
	}
	scaffoldFiles := map[string]string{}
	for name, b := range scaffolded {
		scaffoldFiles[name] = string(b)
	}
	for _, tc := range []struct {
		name    string
		files   map[string]string
		force   bool
		pkg     bool
		why     string
		other   []string
		entries int
	}{
		{name: "just the handler", files: map[string]string{"handler.py": code}, entries: 1},
		{name: "handler and faas.yaml", files: map[string]string{"handler.py": code, "faas.yaml": "max: 3\n"}, entries: 1},
		{name: "what faas init writes", files: scaffoldFiles, entries: 4},
		{name: "caches and tools", files: map[string]string{
			"handler.py": code, "__pycache__/handler.cpython-312.pyc": "x", "handler.pyc": "x",
			".venv/bin/python": "x", ".git/HEAD": "x", "node_modules/x/index.js": "x",
			"README.md": "x", ".gitignore": "x", "test_handler.py": "x", "handler_test.py": "x",
		}, entries: 5},
		{name: "forced", files: map[string]string{"handler.py": code}, force: true, pkg: true, why: "--package", entries: 1},
		{name: "requirements", files: map[string]string{"handler.py": code, "requirements.txt": "six\n"},
			pkg: true, why: "it has requirements.txt", entries: 2},
		{name: "another module", files: map[string]string{"handler.py": code, "util.py": "X = 1\n"},
			pkg: true, why: "it has other files: util.py", other: []string{"util.py"}, entries: 2},
		{name: "a data file and a subfolder", files: map[string]string{"handler.py": code, "words.txt": "a\n", "lib/a.py": "", "lib/b/c.py": ""},
			pkg: true, why: "it has other files: lib/, words.txt", other: []string{"lib/", "words.txt"}, entries: 6},
		{name: "many", files: map[string]string{"handler.py": code, "a.py": "", "b.py": "", "c.py": "", "d.py": ""},
			pkg: true, why: "it has other files: a.py, b.py, c.py and 1 more", other: []string{"a.py", "b.py", "c.py", "d.py"}, entries: 5},
		{name: "tests in a subfolder count", files: map[string]string{"handler.py": code, "tests/test_x.py": ""},
			pkg: true, why: "it has other files: tests/", other: []string{"tests/"}, entries: 3},
		{name: "too large to be inline", files: map[string]string{"handler.py": strings.Repeat("#", 800*1024)},
			pkg: true, why: "handler.py is 800 KiB, more than the 768 KiB of inline code", entries: 1},
		{name: "module in a subfolder", files: map[string]string{"app/main.py": code, "faas.yaml": "module: app.main\n"}, entries: 2},
		{name: "module's package has more", files: map[string]string{"app/main.py": code, "app/__init__.py": "", "faas.yaml": "module: app.main\n"},
			pkg: true, why: "it has other files: app/", other: []string{"app/"}, entries: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fn")
			write(t, dir, tc.files)
			p, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Scan()
			if err != nil {
				t.Fatal(err)
			}
			got := Decide(p, c, tc.force)
			if got.Package != tc.pkg || got.Why != tc.why {
				t.Errorf("Decide = %+v, want package %v (%q)", got, tc.pkg, tc.why)
			}
			if !reflect.DeepEqual(c.Other, tc.other) || c.Entries != tc.entries || c.Requirements != (tc.files["requirements.txt"] != "") {
				t.Errorf("Scan = %+v, want other %v, %d entries", c, tc.other, tc.entries)
			}
		})
	}
}

func TestDecideSingleFileIsInline(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"f.py": "x = 1\n", "requirements.txt": "six\n", "util.py": ""})
	p, err := Load(filepath.Join(dir, "f.py"))
	if err != nil {
		t.Fatal(err)
	}
	if got := Decide(p, Contents{Requirements: true, Other: []string{"util.py"}}, true); got.Package {
		t.Errorf("a single file decided %+v", got)
	}
}

func TestScanFindsLinksButNotInExcludedFolders(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"handler.py": "x = 1\n", "data.txt": "12345"})
	for link, target := range map[string]string{"lib": "/usr/lib", ".venv": "/usr"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "node_modules", ".bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../x/cli.js", filepath.Join(dir, "node_modules", ".bin", "x")); err != nil {
		t.Fatal(err)
	}
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Unsupported, []string{"lib"}) || c.Files != 2 || c.Bytes != 11 {
		t.Errorf("Scan = %+v, want the link lib only, 2 files of 11 bytes", c)
	}
}
