package project

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// DefaultFile is a folder's handler file when faas.yaml names none.
const DefaultFile = "handler.py"

// Source is one source file of a function.
type Source struct {
	// Path is where the file was read, as the user can find it.
	Path string
	// Name is the file's name relative to the function's root.
	Name    string
	Content []byte
}

// Project is a function as found on disk.
type Project struct {
	// Dir is the function's folder; for a single file, the file's folder.
	Dir string
	// Single is set for a single source file, which deploys inline only.
	Single bool
	// Settings are faas.yaml's (none for a single file), with Name filled
	// in from the folder or file name when faas.yaml sets none.
	Settings Settings
	// Sources are the function's files, the handler file first. Only the
	// handler file is read: a folder deployed as a package is packed from
	// Dir (see Scan).
	Sources []Source
}

// Entry is the file holding the handler.
func (p *Project) Entry() Source { return p.Sources[0] }

// Load reads the function at path: a folder (its faas.yaml, if any, and
// its handler file) or a single source file.
func Load(path string) (*Project, error) {
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist: pass a function's folder or its .py file", ErrInvalid, path)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if info.IsDir() {
		return loadDir(path)
	}
	return loadFile(path)
}

func loadDir(dir string) (*Project, error) {
	s, err := ReadSettings(filepath.Join(dir, SettingsFile))
	if err != nil {
		return nil, err
	}
	if s.Name == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", dir, err)
		}
		s.Name = DefaultName(filepath.Base(abs))
	}
	file, err := entryFile(dir, s)
	if err != nil {
		return nil, err
	}
	// No size bound here: a handler file too large to be inline code
	// makes the folder a package (Decide).
	src, err := readSource(filepath.Join(dir, filepath.FromSlash(file)), file, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s in %s: create it (faas init makes a folder) or set file in %s",
			ErrInvalid, file, dir, SettingsFile)
	}
	if err != nil {
		return nil, err
	}
	return &Project{Dir: dir, Settings: s, Sources: []Source{src}}, nil
}

// entryFile is the slash-separated name of the folder's handler file:
// module's file when set (app.main is app/main.py, or app/main/__init__.py
// when that exists instead), else file, else handler.py.
func entryFile(dir string, s Settings) (string, error) {
	file := s.File
	if file != "" {
		file = filepath.ToSlash(filepath.Clean(file))
		if filepath.IsAbs(s.File) || file == ".." || strings.HasPrefix(file, "../") {
			return "", fmt.Errorf("%w: file %q in %s must be inside the folder", ErrInvalid, s.File, filepath.Join(dir, SettingsFile))
		}
	}
	if s.Module == "" {
		if file == "" {
			return DefaultFile, nil
		}
		return file, nil
	}
	if err := ValidateModule(s.Module); err != nil {
		return "", err
	}
	base := strings.ReplaceAll(s.Module, ".", "/")
	modFile := base + ".py"
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(modFile))); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(base), "__init__.py")); err == nil {
			modFile = base + "/__init__.py"
		}
	}
	if file != "" && file != modFile {
		return "", fmt.Errorf("%w: file %s and module %s name different files: set one of them in %s (module for a package)",
			ErrInvalid, s.File, s.Module, filepath.Join(dir, SettingsFile))
	}
	return modFile, nil
}

// Module is the module holding the handler when the folder is deployed as
// a package: Settings.Module, else the handler file's ("handler.py" is
// handler, "app/main.py" app.main).
func (p *Project) Module() (string, error) {
	if p.Settings.Module != "" {
		return p.Settings.Module, nil
	}
	name := p.Entry().Name
	m := strings.TrimSuffix(strings.TrimSuffix(name, ".py"), "/__init__")
	m = strings.ReplaceAll(m, "/", ".")
	if !strings.HasSuffix(name, ".py") || ValidateModule(m) != nil {
		return "", fmt.Errorf("%w: %s is not a Python module name, which a package's handler file needs: rename it, or set module in %s",
			ErrInvalid, name, SettingsFile)
	}
	return m, nil
}

func loadFile(path string) (*Project, error) {
	name := filepath.Base(path)
	if filepath.Ext(name) != ".py" {
		return nil, fmt.Errorf("%w: %s is not a Python file (.py): pass a handler file or its folder", ErrInvalid, path)
	}
	src, err := readSource(path, name, faasv1.MaxCodeBytes)
	if err != nil {
		return nil, err
	}
	return &Project{Dir: filepath.Dir(path), Single: true, Settings: Settings{Name: DefaultName(name)}, Sources: []Source{src}}, nil
}

// ReadSettings reads a faas.yaml; a missing file is empty settings.
// Unknown fields are refused, so that a typo is not silently ignored.
func ReadSettings(path string) (Settings, error) {
	var s Settings
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read %s: %w", path, err)
	}
	if err := yaml.UnmarshalStrict(b, &s); err != nil {
		return s, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	return s, nil
}

// readSource reads a source file of at most limit bytes (0: any size).
func readSource(path, name string, limit int) (Source, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Source{}, fmt.Errorf("read %s: %w", path, err)
	}
	switch {
	case len(b) == 0:
		return Source{}, fmt.Errorf("%w: %s is empty", ErrInvalid, path)
	case limit > 0 && len(b) > limit:
		return Source{}, fmt.Errorf("%w: %s is %d KiB; a function's inline code may be at most %d KiB: put it in a folder and deploy the folder, which is then deployed as a package",
			ErrInvalid, path, len(b)/1024, limit/1024)
	case !utf8.Valid(b):
		return Source{}, fmt.Errorf("%w: %s is not UTF-8 text", ErrInvalid, path)
	}
	return Source{Path: path, Name: name, Content: b}, nil
}
