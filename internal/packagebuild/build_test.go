package packagebuild_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/minifaas/minifaas/internal/packagebuild"
	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/registrytest"
)

const repository = "faas/default/greeter"

var (
	code         = map[string]string{"handler.py": "import six\n", "lib/util.py": "X = 1\n"}
	requirements = "six==1.16.0\n"
	deps         = map[string]string{"six.py": "# six\n", "six-1.16.0.dist-info/METADATA": "Name: six\n"}
)

func step(reg *registrytest.Registry, t *testing.T) packagebuild.Step {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"username": reg.Username, "password": reg.Password + "\n"})
	return packagebuild.Step{Registry: reg.Addr, PlainHTTP: true, Repository: repository, CredentialsDir: dir}
}

// fetchBuilt fetches the built artifact d and returns its files by
// layer-prefixed name, checking its shape.
func fetchBuilt(t *testing.T, reg *registrytest.Registry, d digest.Digest) map[string]string {
	t.Helper()
	repo := reg.Repository(t, repository)
	dest := t.TempDir()
	if _, err := packages.Fetch(t.Context(), packagebuild.BuiltShape().Guard(repo, d), d, dest, packages.Limits{}); err != nil {
		t.Fatal(err)
	}
	return readFiles(t, filepath.Join(dest, packages.RootDir))
}

func prefixed(prefix string, files map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[prefix+"/"+k] = v
	}
	return out
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// uploads counts blob uploads started: POSTs to .../blobs/uploads/.
func uploads(reg *registrytest.Registry) int { return reg.Count(http.MethodPost, "/blobs/uploads/") }

func TestBuildFetchThenPush(t *testing.T) {
	reg := registrytest.Start(t)
	source := pushSource(t, reg.Repository(t, repository), code, requirements)
	s := step(reg, t)
	work := t.TempDir()

	fetch := packagebuild.FetchStep{Step: s, Digest: source.String(), Dest: filepath.Join(work, "src")}
	if err := fetch.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := readFiles(t, filepath.Join(work, "src", packages.RootDir))
	want := merge(prefixed("code", code), map[string]string{"requirements/requirements.txt": requirements})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("fetched source = %v, want %v", got, want)
	}

	// pip's step, as the build Job runs it.
	writeTree(t, filepath.Join(work, "deps"), deps)
	reg.Reset()
	push := packagebuild.PushStep{Step: s, Source: source.String(), Deps: filepath.Join(work, "deps"), TmpDir: t.TempDir()}
	res, err := push.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := uploads(reg); n != 1 {
		t.Errorf("%d blob uploads, want 1: the deps layer only, not the source's code again", n)
	}
	built := digest.Digest(res.Digest)
	if got, want := fetchBuilt(t, reg, built), merge(prefixed("code", code), prefixed("deps", deps)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("built artifact = %v, want %v", got, want)
	}
	depsLayer, ok, err := packagebuild.BuiltDepsLayer(t.Context(), reg.Repository(t, repository), built)
	if err != nil || !ok || depsLayer.Digest.String() != res.DepsLayer {
		t.Errorf("BuiltDepsLayer = %v, %v, %v; want the result's %s", depsLayer.Digest, ok, err, res.DepsLayer)
	}

	t.Run("same source and deps, same digest", func(t *testing.T) {
		again, err := push.Run(t.Context())
		if err != nil || again != res {
			t.Errorf("second push = %+v, %v; want %+v", again, err, res)
		}
	})

	t.Run("code only", func(t *testing.T) {
		repo := reg.Repository(t, repository)
		changed := map[string]string{"handler.py": "import six  # changed\n"}
		source2 := pushSource(t, repo, changed, requirements)
		reg.Reset()
		desc, err := packagebuild.CodeOnly(t.Context(), repo, source2, ocispec.Descriptor{Digest: depsLayer.Digest, Size: depsLayer.Size})
		if err != nil {
			t.Fatal(err)
		}
		if n := uploads(reg); n != 0 {
			t.Errorf("%d blob uploads, want none: both blobs are in the registry", n)
		}
		if n := reg.Count(http.MethodPut, "/manifests/"); n != 1 {
			t.Errorf("%d manifests pushed, want 1", n)
		}
		if got, want := fetchBuilt(t, reg, desc.Digest), merge(prefixed("code", changed), prefixed("deps", deps)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("code-only artifact = %v, want %v", got, want)
		}
		// The same inputs as a build: the same artifact.
		viaBuild, err := packagebuild.PushStep{Step: s, Source: source2.String(), Deps: filepath.Join(work, "deps"), TmpDir: t.TempDir()}.Run(t.Context())
		if err != nil || viaBuild.Digest != desc.Digest.String() {
			t.Errorf("a build of the same code and deps = %+v, %v; want digest %s", viaBuild, err, desc.Digest)
		}
	})

	t.Run("code only without requirements", func(t *testing.T) {
		repo := reg.Repository(t, repository)
		source3 := pushSource(t, repo, map[string]string{"handler.py": "pass\n"}, "")
		desc, err := packagebuild.CodeOnly(t.Context(), repo, source3, ocispec.Descriptor{})
		if err != nil {
			t.Fatal(err)
		}
		if got := fetchBuilt(t, reg, desc.Digest); fmt.Sprint(got) != fmt.Sprint(map[string]string{"code/handler.py": "pass\n"}) {
			t.Errorf("code-only artifact = %v", got)
		}
	})

	t.Run("code only with a deps layer the registry lacks", func(t *testing.T) {
		absent := ocispec.Descriptor{Digest: digest.FromString("absent"), Size: 10}
		_, err := packagebuild.CodeOnly(t.Context(), reg.Repository(t, repository), source, absent)
		if !errors.Is(err, packagebuild.ErrMissingBlob) {
			t.Errorf("CodeOnly = %v, want ErrMissingBlob", err)
		}
	})
}

func TestBuildPushWithoutDependencies(t *testing.T) {
	reg := registrytest.Start(t)
	source := pushSource(t, reg.Repository(t, repository), code, "nothing-installable\n")
	push := packagebuild.PushStep{Step: step(reg, t), Source: source.String(), Deps: filepath.Join(t.TempDir(), "absent"), TmpDir: t.TempDir()}
	res, err := push.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.DepsLayer == "" {
		t.Error("no deps layer")
	}
	if got, want := fetchBuilt(t, reg, digest.Digest(res.Digest)), prefixed("code", code); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("built artifact = %v, want %v", got, want)
	}
}

func TestBuildStepsRefuseOtherArtifacts(t *testing.T) {
	reg := registrytest.Start(t)
	repo := reg.Repository(t, repository)
	built := pushArtifact(t, repo, packages.ArtifactTypeBuilt, layerOf(t, packages.LayerCode, code)).Digest
	extra := pushArtifact(t, repo, packages.ArtifactTypeSource,
		layerOf(t, packages.LayerCode, code), layerOf(t, "other", map[string]string{"x": "y"})).Digest
	s := step(reg, t)
	for name, d := range map[string]digest.Digest{"built artifact": built, "extra layer": extra} {
		t.Run(name, func(t *testing.T) {
			reg.Reset()
			err := packagebuild.FetchStep{Step: s, Digest: d.String(), Dest: filepath.Join(t.TempDir(), "src")}.Run(t.Context())
			if !errors.Is(err, packages.ErrInvalidArtifact) {
				t.Errorf("build-fetch = %v, want ErrInvalidArtifact", err)
			}
			if n := reg.Count(http.MethodGet, "/blobs/"); n != 0 {
				t.Errorf("%d blobs read from a refused artifact", n)
			}
			_, err = packagebuild.PushStep{Step: s, Source: d.String(), Deps: t.TempDir(), TmpDir: t.TempDir()}.Run(t.Context())
			if !errors.Is(err, packages.ErrInvalidArtifact) {
				t.Errorf("build-push = %v, want ErrInvalidArtifact", err)
			}
		})
	}
}

func TestBuildStepsNeedCredentials(t *testing.T) {
	reg := registrytest.Start(t)
	source := pushSource(t, reg.Repository(t, repository), code, "")
	s := step(reg, t)
	if err := os.WriteFile(filepath.Join(s.CredentialsDir, "password"), []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := packagebuild.FetchStep{Step: s, Digest: source.String(), Dest: t.TempDir()}.Run(t.Context())
	if err == nil {
		t.Fatal("build-fetch with a wrong password succeeded")
	}
}

// TestBuildPushRefusesLinkedDeps is the attack of a hostile sdist: pip's
// step, which runs its code, replaces the deps folder (or a folder on the
// way to it, or something in it) with a link to the push step's
// credentials mount, laid out as the kubelet lays out a Secret volume.
// Push must refuse, saying why, and push nothing. (Before OpenDeps, push
// followed the link and pushed the password in the deps layer.)
func TestBuildPushRefusesLinkedDeps(t *testing.T) {
	reg := registrytest.Start(t)
	source := pushSource(t, reg.Repository(t, repository), code, requirements)
	s := step(reg, t)
	secret := t.TempDir()
	writeTree(t, secret, map[string]string{"..2025_01_01_00_00_00.1/username": "faas", "..2025_01_01_00_00_00.1/password": "exfiltrated-password"})
	symlink(t, "..2025_01_01_00_00_00.1", filepath.Join(secret, "..data"))
	credentials := filepath.Join(secret, "..data")

	tests := []struct {
		name string
		// setup makes the work folder as pip's step left it and returns
		// the deps folder.
		setup func(t *testing.T, work string) string
		want  error
	}{
		{"deps is a link to the credentials", func(t *testing.T, work string) string {
			symlink(t, credentials, filepath.Join(work, "deps"))
			return filepath.Join(work, "deps")
		}, packagebuild.ErrUnsafeDeps},
		{"deps is a relative link to the credentials", func(t *testing.T, work string) string {
			rel, err := filepath.Rel(work, credentials)
			if err != nil {
				t.Fatal(err)
			}
			symlink(t, rel, filepath.Join(work, "deps"))
			return filepath.Join(work, "deps")
		}, packagebuild.ErrUnsafeDeps},
		{"deps is a link within the work folder", func(t *testing.T, work string) string {
			writeTree(t, filepath.Join(work, "src"), deps)
			symlink(t, "src", filepath.Join(work, "deps"))
			return filepath.Join(work, "deps")
		}, packagebuild.ErrUnsafeDeps},
		{"a folder above deps is a link", func(t *testing.T, work string) string {
			writeTree(t, filepath.Join(secret, "..data", "deps"), deps)
			t.Cleanup(func() { os.RemoveAll(filepath.Join(secret, "..data", "deps")) })
			symlink(t, credentials, filepath.Join(work, "build"))
			return filepath.Join(work, "build", "deps")
		}, packagebuild.ErrUnsafeDeps},
		{"deps is a file", func(t *testing.T, work string) string {
			writeTree(t, work, map[string]string{"deps": "x"})
			return filepath.Join(work, "deps")
		}, packagebuild.ErrUnsafeDeps},
		{"a link in deps", func(t *testing.T, work string) string {
			writeTree(t, filepath.Join(work, "deps"), deps)
			symlink(t, credentials, filepath.Join(work, "deps", "creds"))
			return filepath.Join(work, "deps")
		}, packages.ErrUnsupportedType},
		{"a link to a file in deps", func(t *testing.T, work string) string {
			writeTree(t, filepath.Join(work, "deps"), deps)
			symlink(t, filepath.Join(credentials, "password"), filepath.Join(work, "deps", "six-1.16.0.dist-info", "RECORD"))
			return filepath.Join(work, "deps")
		}, packages.ErrUnsupportedType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			d := tc.setup(t, work)
			reg.Reset()
			res, err := packagebuild.PushStep{Step: s, Source: source.String(), WorkDir: work, Deps: d, TmpDir: t.TempDir()}.Run(t.Context())
			if err == nil {
				t.Fatalf("build-push of a linked deps folder succeeded: %+v", res)
			}
			if !errors.Is(err, tc.want) || (!strings.Contains(err.Error(), "symbolic link") && !strings.Contains(err.Error(), "not a directory")) {
				t.Errorf("build-push = %v, want %v saying what is wrong", err, tc.want)
			}
			if n, m := uploads(reg), reg.Count(http.MethodPut, "/manifests/"); n != 0 || m != 0 {
				t.Errorf("%d blob uploads and %d manifests pushed, want none", n, m)
			}
		})
	}

	t.Run("deps outside the work folder", func(t *testing.T) {
		_, err := packagebuild.PushStep{Step: s, Source: source.String(), WorkDir: t.TempDir(), Deps: t.TempDir(), TmpDir: t.TempDir()}.Run(t.Context())
		if !errors.Is(err, packagebuild.ErrUnsafeDeps) {
			t.Errorf("build-push = %v, want ErrUnsafeDeps", err)
		}
	})
	t.Run("deps relative to the work folder", func(t *testing.T) {
		work := t.TempDir()
		writeTree(t, filepath.Join(work, "a", "deps"), deps)
		res, err := packagebuild.PushStep{Step: s, Source: source.String(), WorkDir: work, Deps: "a/deps", TmpDir: t.TempDir()}.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fetchBuilt(t, reg, digest.Digest(res.Digest)), merge(prefixed("code", code), prefixed("deps", deps)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("built artifact = %v, want %v", got, want)
		}
	})
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestBuildFetchRefusesRequirements(t *testing.T) {
	reg := registrytest.Start(t)
	source := pushSource(t, reg.Repository(t, repository), code, "six\n-r /proc/self/environ\n")
	err := packagebuild.FetchStep{Step: step(reg, t), Digest: source.String(), Dest: filepath.Join(t.TempDir(), "src")}.Run(t.Context())
	const want = "requirements.txt line 2: pip options are not allowed (the platform's pip settings choose the index): -r"
	if !errors.Is(err, packagebuild.ErrInvalidRequirements) || err.Error() != want {
		t.Errorf("build-fetch = %v, want %q", err, want)
	}
}
