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
	// Settings are faas.yaml's (none for a single file), with Name filled
	// in from the folder or file name when faas.yaml sets none.
	Settings Settings
	// Sources are the function's files, the handler file first. Functions
	// are single-file today, so there is exactly one.
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
	file := s.File
	if file == "" {
		file = DefaultFile
	}
	if filepath.IsAbs(file) || strings.HasPrefix(filepath.Clean(file), "..") {
		return nil, fmt.Errorf("%w: file %q in %s must be inside the folder", ErrInvalid, file, filepath.Join(dir, SettingsFile))
	}
	src, err := readSource(filepath.Join(dir, file), file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s in %s: create it (faas init makes a folder) or set file in %s",
			ErrInvalid, file, dir, SettingsFile)
	}
	if err != nil {
		return nil, err
	}
	return &Project{Dir: dir, Settings: s, Sources: []Source{src}}, nil
}

func loadFile(path string) (*Project, error) {
	name := filepath.Base(path)
	if filepath.Ext(name) != ".py" {
		return nil, fmt.Errorf("%w: %s is not a Python file (.py): pass a handler file or its folder", ErrInvalid, path)
	}
	src, err := readSource(path, name)
	if err != nil {
		return nil, err
	}
	return &Project{Dir: filepath.Dir(path), Settings: Settings{Name: DefaultName(name)}, Sources: []Source{src}}, nil
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

func readSource(path, name string) (Source, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Source{}, fmt.Errorf("read %s: %w", path, err)
	}
	switch {
	case len(b) == 0:
		return Source{}, fmt.Errorf("%w: %s is empty", ErrInvalid, path)
	case len(b) > faasv1.MaxCodeBytes:
		return Source{}, fmt.Errorf("%w: %s is %d KiB; a function's code may be at most %d KiB",
			ErrInvalid, path, len(b)/1024, faasv1.MaxCodeBytes/1024)
	case !utf8.Valid(b):
		return Source{}, fmt.Errorf("%w: %s is not UTF-8 text", ErrInvalid, path)
	}
	return Source{Path: path, Name: name, Content: b}, nil
}
