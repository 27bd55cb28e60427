package project

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/packages"
)

// RequirementsFile is a package's pip requirements, at the folder's top.
const RequirementsFile = packages.RequirementsFile

// excludedNames are left out of a package wherever they are: version
// control, bytecode caches, virtualenvs and Node.js modules, which are
// rebuilt where they are needed and hold links Pack refuses.
var excludedNames = map[string]bool{
	".git": true, "__pycache__": true, ".venv": true, "node_modules": true,
}

// Excluded tells whether the entry name (slash-separated, relative to a
// function's folder) is left out of the folder's package: faas.yaml,
// which is read by faas and not by the function; the runner/ folder at
// the top, faas init's copy of the runner's contract for local tests,
// which could not be imported anyway (runner is the runner's own package
// in the pod); .git, __pycache__, .venv and node_modules anywhere, and
// *.pyc files. It depends on the name only, so packing is deterministic.
func Excluded(name string, isDir bool) bool {
	base := path.Base(name)
	top := !strings.Contains(name, "/")
	switch {
	case top && name == SettingsFile && !isDir:
		return true
	case top && name == "runner" && isDir:
		return true
	case excludedNames[base]:
		return true
	case !isDir && strings.HasSuffix(base, ".pyc"):
		return true
	}
	return false
}

// devFile tells whether a top-level file is one kept next to the code for
// development, as faas init writes them: a README, .gitignore and other
// dot files, tests. It does not make a folder a package by itself; a
// package holds it like any other file.
func devFile(name string) bool {
	if strings.Contains(name, "/") {
		return false
	}
	switch {
	case strings.HasPrefix(name, "."),
		strings.HasPrefix(strings.ToUpper(name), "README"),
		strings.HasPrefix(name, "test_") && strings.HasSuffix(name, ".py"),
		strings.HasSuffix(name, "_test.py"):
		return true
	}
	return false
}

// Contents is what a folder holds besides what Excluded leaves out.
type Contents struct {
	// Files and Entries count its regular files, and files and
	// directories; Bytes is the size of its files.
	Files, Entries int
	Bytes          int64
	// Other are the top-level names (a directory with a trailing "/") of
	// files that are neither the handler file nor development files,
	// sorted: what an inline function would leave behind.
	Other []string
	// Requirements is set when the folder has a requirements.txt.
	Requirements bool
	// Unsupported are entries a package cannot hold: links, devices,
	// sockets and pipes.
	Unsupported []string
}

// Scan lists what p's folder would put in a package, without reading any
// file. It does not follow links.
func (p *Project) Scan() (Contents, error) {
	var c Contents
	other := map[string]bool{}
	entry := p.Entry().Name
	err := filepath.WalkDir(p.Dir, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(p.Dir, fp)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		name := filepath.ToSlash(rel)
		if Excluded(name, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		c.Entries++
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			c.Unsupported = append(c.Unsupported, name)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		c.Files++
		c.Bytes += info.Size()
		switch {
		case name == RequirementsFile:
			c.Requirements = true
		case name == entry || devFile(name):
		default:
			top, _, nested := strings.Cut(name, "/")
			if nested {
				top += "/"
			}
			other[top] = true
		}
		return nil
	})
	if err != nil {
		return Contents{}, fmt.Errorf("read %s: %w", p.Dir, err)
	}
	for name := range other {
		c.Other = append(c.Other, name)
	}
	sort.Strings(c.Other)
	return c, nil
}

// Mode is how a function deploys: inline code in the Function, or a
// package pushed to the platform's registry.
type Mode struct {
	Package bool
	// Why says what made it a package.
	Why string
}

// Decide tells how p deploys: a folder is a package when forced (the
// --package flag), when it has a requirements.txt, when its handler file
// is too large for inline code, or when it has other files (modules, data
// files, subfolders) besides the handler file, faas.yaml and development
// files. Anything else, and a single file, is inline code as before
// packages existed.
func Decide(p *Project, c Contents, force bool) Mode {
	entry := p.Entry()
	switch {
	case p.Single:
		return Mode{}
	case force:
		return Mode{Package: true, Why: "--package"}
	case c.Requirements:
		return Mode{Package: true, Why: "it has " + RequirementsFile}
	case len(entry.Content) > faasv1.MaxCodeBytes:
		return Mode{Package: true, Why: fmt.Sprintf("%s is %d KiB, more than the %d KiB of inline code",
			entry.Name, len(entry.Content)/1024, faasv1.MaxCodeBytes/1024)}
	case len(c.Other) > 0:
		return Mode{Package: true, Why: "it has other files: " + listSome(c.Other, 3)}
	}
	return Mode{}
}

// listSome lists up to n names, then how many more there are.
func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
