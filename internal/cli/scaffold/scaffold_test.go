package scaffold

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestScaffoldedTestPasses writes a folder and runs its test the way the
// README says, with plain python3 -m unittest: the vendored contract
// must import on its own and the handler must pass its own test.
func TestScaffoldedTestPasses(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	files, err := Files("hello", "python")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "hello")
	if _, err := Write(dir, files); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-m", "unittest", "-v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest in the scaffold: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Ran 4 tests") {
		t.Errorf("expected the 4 scaffolded tests to run:\n%s", out)
	}
}

func TestFiles(t *testing.T) {
	files, err := Files("my-fn", "python")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"handler.py", "test_handler.py", "faas.yaml", "README.md", ".gitignore",
		"runner/__init__.py", "runner/contract.py"} {
		if _, ok := files[want]; !ok {
			t.Errorf("no %s among %v", want, keys(files))
		}
	}
	if !strings.Contains(string(files["faas.yaml"]), "name: my-fn") {
		t.Errorf("faas.yaml does not name the function:\n%s", files["faas.yaml"])
	}
	if _, err := Files("x", "node"); err == nil {
		t.Error("an unknown runtime was accepted")
	}
}

// TestContractIsSelfContained: every module the vendored runner files
// import relatively is vendored too, so a new import in contract.py fails
// here rather than in a user's folder.
func TestContractIsSelfContained(t *testing.T) {
	files, err := ContractFiles()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["contract.py"]; !ok {
		t.Fatalf("contract.py is not embedded: %v", keys(files))
	}
	relative := regexp.MustCompile(`(?m)^\s*from \.(\w*) import ([\w, ]+)`)
	for name, src := range files {
		for _, m := range relative.FindAllStringSubmatch(string(src), -1) {
			mods := []string{m[1]}
			if m[1] == "" { // from . import a, b as c
				mods = nil
				for _, part := range strings.Split(m[2], ",") {
					mods = append(mods, strings.Fields(part)[0])
				}
			}
			for _, mod := range mods {
				if _, ok := files[mod+".py"]; !ok {
					t.Errorf("%s imports .%s, which runtimes/python/embed.go does not embed", name, mod)
				}
			}
		}
	}
}

func TestWriteRefusesANonEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, map[string][]byte{"a": nil}); !errors.Is(err, ErrExists) {
		t.Errorf("Write into a non-empty folder: %v, want ErrExists", err)
	}
}

func keys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}
