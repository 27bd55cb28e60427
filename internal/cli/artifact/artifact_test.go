package artifact

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/minifaas/minifaas/internal/cli/project"
	"github.com/minifaas/minifaas/internal/packages"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// folder is a function folder with modules, data, requirements and all
// the things a package leaves out.
var folder = map[string]string{
	"handler.py":       "from lib import util\n\ndef handle(req):\n    return util.X\n",
	"lib/__init__.py":  "",
	"lib/util.py":      "X = 1\n",
	"data/words.txt":   "a\nb\n",
	"requirements.txt": "six==1.16.0\n",
	"README.md":        "# hello\n",
	"test_handler.py":  "import handler\n",

	"faas.yaml":                               "name: hello\n",
	"runner/__init__.py":                      "# faas init's copy\n",
	".git/HEAD":                               "ref: refs/heads/main\n",
	"__pycache__/handler.cpython-312.pyc":     "bytecode",
	"lib/__pycache__/util.cpython-312.pyc":    "bytecode",
	"stray.pyc":                               "bytecode",
	".venv/lib/python3.12/site-packages/x.py": "",
	"node_modules/left-pad/index.js":          "",
}

// deployed are the names the code layer must hold.
var deployed = []string{
	"README.md", "data/", "data/words.txt", "handler.py", "lib/", "lib/__init__.py", "lib/util.py",
	"requirements.txt", "test_handler.py",
}

func packFolder(t *testing.T, dir string) *Source {
	t.Helper()
	s, err := Pack(dir, project.Excluded, packages.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// unpacked lists the entries of each layer of s, by title, as pushed to
// an in-memory registry.
func unpacked(t *testing.T, s *Source) map[string][]string {
	t.Helper()
	ctx := context.Background()
	store := memory.New()
	if _, err := s.Push(ctx, store); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range s.Layers() {
		title := l.Annotations[ocispec.AnnotationTitle]
		blob, err := content.FetchAll(ctx, store, l)
		if err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(t.TempDir(), title)
		if err := packages.Unpack(bytes.NewReader(blob), root, packages.Limits{}); err != nil {
			t.Fatal(err)
		}
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || p == root {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				rel += "/"
			}
			out[title] = append(out[title], rel)
			return nil
		})
		slices.Sort(out[title])
	}
	return out
}

func TestPackLeavesOutWhatIsNotDeployed(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, folder)
	// A virtualenv's links are not read, let alone refused.
	if err := os.Symlink("/usr/bin/python3", filepath.Join(dir, ".venv", "python")); err != nil {
		t.Fatal(err)
	}
	got := unpacked(t, packFolder(t, dir))
	if !reflect.DeepEqual(got[packages.LayerCode], deployed) {
		t.Errorf("code layer = %v\nwant %v", got[packages.LayerCode], deployed)
	}
	if want := []string{"requirements.txt"}; !reflect.DeepEqual(got[packages.LayerRequirements], want) {
		t.Errorf("requirements layer = %v, want %v", got[packages.LayerRequirements], want)
	}
}

func TestPackIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeTree(t, a, folder)
	writeTree(t, b, folder)
	// Other times, and files that are left out, change nothing.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, name := range []string{"handler.py", "requirements.txt", "lib"} {
		if err := os.Chtimes(filepath.Join(b, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	writeTree(t, b, map[string]string{"__pycache__/other.pyc": "more", "faas.yaml": "name: other\n"})

	first := packFolder(t, a)
	store := memory.New()
	pushed, err := first.Push(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	if pushed.LayersSent != 2 || pushed.BytesSent != first.Code.Size+first.Requirements.Size {
		t.Errorf("first push = %+v, want both layers sent", pushed)
	}
	for name, dir := range map[string]string{"the same folder again": a, "an equal folder": b} {
		again := packFolder(t, dir)
		if again.Code.Digest != first.Code.Digest || again.Requirements.Digest != first.Requirements.Digest {
			t.Errorf("%s: layers %s, %s; want %s, %s", name, again.Code.Digest, again.Requirements.Digest, first.Code.Digest, first.Requirements.Digest)
		}
		p, err := again.Push(context.Background(), store)
		if err != nil {
			t.Fatal(err)
		}
		if p.Manifest.Digest != pushed.Manifest.Digest || p.LayersSent != 0 {
			t.Errorf("%s: pushed %+v, want manifest %s and nothing sent", name, p, pushed.Manifest.Digest)
		}
	}

	// A code change: a new code layer and manifest, the same
	// requirements layer, which keys the dependency build.
	writeTree(t, b, map[string]string{"lib/util.py": "X = 2\n"})
	changed := packFolder(t, b)
	if changed.Code.Digest == first.Code.Digest {
		t.Error("a changed module kept the code layer's digest")
	}
	if changed.Requirements.Digest != first.Requirements.Digest {
		t.Errorf("a changed module changed the requirements layer: %s, was %s", changed.Requirements.Digest, first.Requirements.Digest)
	}
	p, err := changed.Push(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	if p.Manifest.Digest == pushed.Manifest.Digest || p.LayersSent != 1 || p.BytesSent != changed.Code.Size {
		t.Errorf("code-only change pushed %+v, want a new manifest and only the code layer sent", p)
	}

	// The requirements layer is a function of requirements.txt alone.
	writeTree(t, b, map[string]string{"requirements.txt": "six==1.17.0\n"})
	if packFolder(t, b).Requirements.Digest == first.Requirements.Digest {
		t.Error("changed requirements kept the requirements layer's digest")
	}
}

func TestPushWritesASourceArtifact(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, folder)
	s := packFolder(t, dir)
	store := memory.New()
	pushed, err := s.Push(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := content.FetchAll(context.Background(), store, pushed.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != packages.ArtifactTypeSource || digest.FromBytes(raw) != pushed.Manifest.Digest {
		t.Errorf("manifest %s of type %q", pushed.Manifest.Digest, m.ArtifactType)
	}
	var titles []string
	for _, l := range m.Layers {
		titles = append(titles, l.Annotations[ocispec.AnnotationTitle])
	}
	if !reflect.DeepEqual(titles, []string{packages.LayerCode, packages.LayerRequirements}) || !reflect.DeepEqual(m.Layers, s.Layers()) {
		t.Errorf("layers = %v, want code then requirements: %+v", titles, m.Layers)
	}
}

func TestPackWithoutRequirements(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"handler.py": "x = 1\n", "util.py": "y = 2\n"})
	s := packFolder(t, dir)
	if s.Requirements != nil || len(s.Layers()) != 1 {
		t.Errorf("layers = %+v, want the code layer only", s.Layers())
	}
}

func TestPackRefusesRequirementsThatAreNotAFile(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"handler.py": "x = 1\n", "reqs.txt": "six\n"})
	if err := os.Symlink("reqs.txt", filepath.Join(dir, "requirements.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := Pack(dir, project.Excluded, packages.Limits{}); err == nil {
		t.Error("packed a folder whose requirements.txt is a link")
	}
}

func TestCloseRemovesThePackedLayer(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"handler.py": "x = 1\n"})
	s, err := Pack(dir, project.Excluded, packages.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f := s.codeFile
	if _, err := os.Stat(f); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(f); !os.IsNotExist(err) {
		t.Errorf("the packed layer %s is still there: %v", f, err)
	}
}
