package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/cli/artifact"
	"github.com/minifaas/minifaas/internal/cli/fnspec"
	"github.com/minifaas/minifaas/internal/cli/project"
	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/packages"
)

// localPackage is a folder packed as a package's source, not pushed yet.
type localPackage struct {
	dir    string
	why    string
	module string
	source *artifact.Source
	// contents is what the folder holds, for the summary.
	contents project.Contents
}

// packageLimits bound a package: the platform's defaults, which the
// fetcher and the runners enforce too.
var packageLimits = packages.Limits{MaxBytes: packages.DefaultMaxBytes, MaxEntries: packages.DefaultMaxEntries}

// preparePackage decides how p's folder deploys and, for a package, packs
// it; nil means inline code. force is --package.
func preparePackage(p *project.Project, force bool) (*localPackage, error) {
	contents, err := p.Scan()
	if err != nil {
		return nil, err
	}
	mode := project.Decide(p, contents, force)
	if !mode.Package {
		return nil, nil
	}
	if rt := p.Settings.Runtime; rt != "" && rt != string(faasv1.RuntimePython) {
		return nil, fmt.Errorf("%w: %s deploys as a package (%s), and packages are for the python runtime only: a %s function is its one file, inline; move the other files out of the folder",
			project.ErrInvalid, p.Dir, mode.Why, rt)
	}
	if len(contents.Unsupported) > 0 {
		return nil, fmt.Errorf("%w: %s deploys as a package (%s), which holds only regular files and folders, and %s is a link or a special file: copy what it points to into the folder, or remove it",
			project.ErrInvalid, p.Dir, mode.Why, contents.Unsupported[0])
	}
	if contents.Bytes > packageLimits.MaxBytes || contents.Entries > packageLimits.MaxEntries {
		return nil, fmt.Errorf("%w: %s deploys as a package (%s) of %s in %d files and folders, more than the %s and %d a package may hold: leave out what the function does not need (faas leaves out .git, .venv, node_modules, __pycache__ and *.pyc)",
			project.ErrInvalid, p.Dir, mode.Why, byteSize(contents.Bytes), contents.Entries, byteSize(packageLimits.MaxBytes), packageLimits.MaxEntries)
	}
	module, err := p.Module()
	if err != nil {
		return nil, err
	}
	// The build refuses the same, later: say it before anything is sent.
	if err := validateRequirements(p.Dir); err != nil {
		return nil, fmt.Errorf("%w: %v", project.ErrInvalid, err)
	}
	src, err := artifact.Pack(p.Dir, project.Excluded, packageLimits)
	switch {
	case errors.Is(err, packages.ErrTooLarge), errors.Is(err, packages.ErrTooManyEntries), errors.Is(err, packages.ErrUnsupportedType):
		// The folder changed since Scan.
		return nil, fmt.Errorf("%w: %v", project.ErrInvalid, err)
	case err != nil:
		return nil, err
	}
	return &localPackage{dir: p.Dir, why: mode.Why, module: module, source: src, contents: contents}, nil
}

// pushPackage pushes pkg to the repository of function name in ns and
// returns the source artifact's digest.
func (a *app) pushPackage(ctx context.Context, ns, name string, pkg *localPackage, f registryFlags) (string, error) {
	repository := packages.Repository(ns, name)
	fmt.Fprintf(a.env.Out, "package %s (%s): %d files, %s, module %s\n",
		pkg.dir, pkg.why, pkg.contents.Files, byteSize(pkg.contents.Bytes), pkg.module)
	rc, err := a.openRegistry(ctx, f, repository)
	if err != nil {
		return "", err
	}
	defer rc.close()
	pushed, err := pkg.source.Push(ctx, rc.storage)
	if err != nil {
		sys, _, _ := a.registryService(f.service)
		return "", pushError(err, rc.where, repository, sys)
	}
	sent := "nothing new sent"
	if pushed.LayersSent > 0 {
		sent = fmt.Sprintf("%s sent", byteSize(pushed.BytesSent))
	}
	fmt.Fprintf(a.env.Out, "pushed %s to %s: %d layers, %s\n",
		fnspec.ShortDigest(pushed.Manifest.Digest.String()), repository, len(pkg.source.Layers()), sent)
	return pushed.Manifest.Digest.String(), nil
}

// byteSize is n in B, KiB or MiB, one decimal.
func byteSize(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// validateRequirements checks the folder's requirements.txt, if any, as the
// build will (packagebuild.ValidateRequirements).
func validateRequirements(dir string) error {
	f, err := os.Open(filepath.Join(dir, packages.RequirementsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return packagebuild.ValidateRequirements(f)
}
