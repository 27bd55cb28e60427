package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitThenDeployTheFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	h := newHarness(t)
	out := h.mustRun("init", "hello", "--dir", dir)
	if !strings.Contains(out, "handler.py") || !strings.Contains(out, "python3 -m unittest") {
		t.Errorf("init output:\n%s", out)
	}
	for _, f := range []string{"handler.py", "test_handler.py", "faas.yaml", "README.md", "runner/contract.py"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("init did not write %s: %v", f, err)
		}
	}
	h.mustRun("deploy", dir, "--no-wait")
	fn := h.function("default", "hello")
	if len(fn.Spec.Env) != 1 || fn.Spec.Env[0].Name != "GREETING" || fn.Spec.Handler != "handle" || fn.Spec.Runtime != "python" {
		t.Errorf("deployed spec = %+v", fn.Spec)
	}
	if code := h.run("init", "hello", "--dir", dir); code == 0 || !strings.Contains(h.err.String(), "not empty") {
		t.Errorf("init into a non-empty folder: exit %d, %s", code, h.err)
	}
	for _, bad := range [][]string{{"init", "Hello_World"}, {"init", "x", "--runtime", "cobol"}} {
		if code := h.run(bad...); code != ExitUsage {
			t.Errorf("faas %v: exit %d, want %d", bad, code, ExitUsage)
		}
	}
}
