package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/minifaas/minifaas/runtimes/python"
)

//go:embed templates
var templates embed.FS

// ErrExists is returned when the folder to create exists and is not empty.
var ErrExists = errors.New("folder exists and is not empty")

// Runtimes are the runtimes init can scaffold, for help and completion.
func Runtimes() []string { return []string{"python"} }

// contractDir is where the vendored runner modules go in the folder; it
// is the package name the runner has in its image, so a handler may
// import from runner.contract both here and when deployed.
const contractDir = "runner"

// contractInit is the vendored package's __init__.py.
const contractInit = `"""A copy of the minifaas Python runner's handler contract: Request,
to_response and the modules they import, written by ` + "`faas init`" + ` so that
test_handler.py runs without a cluster. Not deployed; the runner in the
cluster has its own copy. Do not edit: a newer faas writes a newer copy.
"""
`

// Files returns the files of a new function folder, by slash-separated
// path relative to the folder.
func Files(name, runtime string) (map[string][]byte, error) {
	if runtime != "python" {
		return nil, fmt.Errorf("unknown runtime %q: faas init knows %s", runtime, strings.Join(Runtimes(), ", "))
	}
	files := map[string][]byte{}
	root := path.Join("templates", runtime)
	entries, err := fs.ReadDir(templates, root)
	if err != nil {
		return nil, fmt.Errorf("read templates: %w", err)
	}
	for _, e := range entries {
		out := strings.TrimSuffix(e.Name(), ".tmpl")
		if out == "gitignore" {
			out = ".gitignore" // embed skips dot files, so it is stored without the dot
		}
		t, err := template.ParseFS(templates, path.Join(root, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", e.Name(), err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, struct{ Name string }{name}); err != nil {
			return nil, fmt.Errorf("render %s: %w", e.Name(), err)
		}
		files[out] = b.Bytes()
	}
	contract, err := ContractFiles()
	if err != nil {
		return nil, err
	}
	for name, b := range contract {
		files[path.Join(contractDir, name)] = b
	}
	files[path.Join(contractDir, "__init__.py")] = []byte(contractInit)
	return files, nil
}

// ContractFiles returns the runner modules the scaffolded test imports,
// by file name.
func ContractFiles() (map[string][]byte, error) {
	src := python.ContractFiles()
	entries, err := fs.ReadDir(src, "runner")
	if err != nil {
		return nil, fmt.Errorf("read the embedded runner contract: %w", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := fs.ReadFile(src, path.Join("runner", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read the embedded runner contract: %w", err)
		}
		files[e.Name()] = b
	}
	return files, nil
}

// Write creates dir, which must not exist or be empty, and the files in
// it. It returns the paths written, sorted.
func Write(dir string, files map[string][]byte) ([]string, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrExists, dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var written []string
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return written, fmt.Errorf("create %s: %w", filepath.Dir(p), err)
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return written, fmt.Errorf("write %s: %w", p, err)
		}
		written = append(written, p)
	}
	return written, nil
}
