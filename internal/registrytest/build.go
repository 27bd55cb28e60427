package registrytest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	mainCalled bool
	buildOnce  sync.Once
	built      struct {
		root, bin, dir string
		err            error
	}
)

// Main runs the tests of m and exits, removing the registry binary if a
// test built it; call it from TestMain.
func Main(m *testing.M) {
	mainCalled = true
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// binary builds the registry the first time it is asked for; later test
// binaries build it from the Go build cache in seconds. It returns the
// binary and the main module's directory.
func binary(t testing.TB) (bin, root string) {
	t.Helper()
	if !mainCalled {
		t.Fatal("registrytest: call registrytest.Main(m) from TestMain")
	}
	buildOnce.Do(func() { built.root, built.bin, built.dir, built.err = build() })
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin, built.root
}

func build() (root, bin, dir string, err error) {
	if root, err = repoRoot(); err != nil {
		return "", "", "", err
	}
	if dir, err = os.MkdirTemp("", "minifaas-registry-"); err != nil {
		return "", "", "", err
	}
	bin = filepath.Join(dir, "registry")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/distribution/distribution/v3/cmd/registry")
	cmd.Dir = filepath.Join(root, "hack", "cluster", "registry")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", dir, fmt.Errorf("building the registry from %s: %w\n%s", cmd.Dir, err, out)
	}
	return root, bin, dir, nil
}

// repoRoot is the main module's directory, found from the test's own.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := string(bytes.TrimSpace(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not in the main module")
	}
	return filepath.Dir(gomod), nil
}
