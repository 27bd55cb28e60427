//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// packageHandler uses a sibling package, a data file next to it and a
// third-party module installed from requirements.txt.
const packageHandler = `import os
import minidep
from lib.words import greet

HERE = os.path.dirname(os.path.abspath(__file__))

def handle(req):
    with open(os.path.join(HERE, "data", "greeting.txt")) as f:
        g = f.read().strip()
    return {"answer": minidep.shout(greet(g)), "version": minidep.VERSION}
`

// wheelIndex serves wheels of minidep 1.0 and 2.0 to builds, and points the
// platform's pip settings at it.
func wheelIndex(t *testing.T) {
	t.Helper()
	wheels := map[string][]byte{}
	for _, v := range []string{"1.0", "2.0"} {
		name, whl := buildWheel(t, "minidep", v, map[string]string{
			"minidep/__init__.py": "VERSION = '" + v + "'\n\ndef shout(s):\n    return s.upper() + '!'\n",
		})
		wheels[name] = whl
	}
	setPipSettings(t, serveWheels(t, wheels))
}

// buildJobs lists the build Jobs of a function.
func buildJobs(t *testing.T, ns, name string) []batchv1.Job {
	t.Helper()
	var jobs batchv1.JobList
	if err := k8s.List(context.Background(), &jobs, client.InNamespace("faas-system"),
		client.MatchingLabels{resources.FunctionLabel: name, resources.BuildFunctionNamespaceLabel: ns}); err != nil {
		t.Fatal(err)
	}
	return jobs.Items
}

// TestPackageFromAFolderWithAThirdPartyDependency: a folder with modules, a
// data file and a requirements.txt naming a wheel built here deploys with
// faas deploy and answers. A code change reuses the built dependencies (no
// build Job, same layer); a requirements change builds again. Deleting the
// function deletes its artifacts from the registry, and the registry's
// garbage collection then removes their blobs.
func TestPackageFromAFolderWithAThirdPartyDependency(t *testing.T) {
	gw := ensurePlatform(t)
	wheelIndex(t)
	ns := newNamespace(t, "pkg")
	dir := filepath.Join(t.TempDir(), "greeter")
	writeFile(t, filepath.Join(dir, "handler.py"), packageHandler)
	writeFile(t, filepath.Join(dir, "lib", "__init__.py"), "")
	writeFile(t, filepath.Join(dir, "lib", "words.py"), "def greet(g):\n    return g + ', world'\n")
	writeFile(t, filepath.Join(dir, "data", "greeting.txt"), "hello\n")
	writeFile(t, filepath.Join(dir, "requirements.txt"), "minidep==1.0\n")
	// Unique content, so the code blob is this test's alone.
	writeFile(t, filepath.Join(dir, "data", "nonce.txt"), randomHex(t, 16))

	faas(t, "deploy", dir, "-n", ns, "--wait-timeout", "4m")
	url := gw + "/invoke/greeter." + ns
	if got := httpGet(t, url); !strings.Contains(got, `"answer": "HELLO, WORLD!"`) || !strings.Contains(got, `"version": "1.0"`) {
		t.Fatalf("answer %s", got)
	}
	first := getFunction(t, ns, "greeter").Status.Package
	if first == nil || first.Digest == "" || first.DependenciesLayer == "" || len(buildJobs(t, ns, "greeter")) != 1 {
		t.Fatalf("after the first deploy: status %+v, %d build Jobs", first, len(buildJobs(t, ns, "greeter")))
	}

	// A code change: no build, the same dependency layer, new code served.
	writeFile(t, filepath.Join(dir, "lib", "words.py"), "def greet(g):\n    return g + ', code change'\n")
	faas(t, "deploy", dir, "-n", ns, "--wait-timeout", "4m")
	second := getFunction(t, ns, "greeter").Status.Package
	if second.Digest == first.Digest || second.DependenciesLayer != first.DependenciesLayer || second.Dependencies != first.Dependencies {
		t.Errorf("a code change: status %+v after %+v", second, first)
	}
	if n := len(buildJobs(t, ns, "greeter")); n != 1 {
		t.Errorf("a code change started a build: %d build Jobs", n)
	}
	eventually(t, 60*time.Second, "the new code answers", func() error {
		if got := httpGet(t, url); !strings.Contains(got, "HELLO, CODE CHANGE!") {
			return fmt.Errorf("answer %s", got)
		}
		return nil
	})

	// A requirements change: a build, a new dependency layer.
	writeFile(t, filepath.Join(dir, "requirements.txt"), "minidep==2.0\n")
	faas(t, "deploy", dir, "-n", ns, "--wait-timeout", "4m")
	third := getFunction(t, ns, "greeter").Status.Package
	if third.DependenciesLayer == second.DependenciesLayer || len(buildJobs(t, ns, "greeter")) != 2 {
		t.Errorf("a requirements change: status %+v, %d build Jobs", third, len(buildJobs(t, ns, "greeter")))
	}
	eventually(t, 60*time.Second, "the new dependency answers", func() error {
		if got := httpGet(t, url); !strings.Contains(got, `"version": "2.0"`) {
			return fmt.Errorf("answer %s", got)
		}
		return nil
	})

	// Delete: the artifacts go from the registry, then their blobs.
	repo := registryRepository(t, ns, "greeter")
	ctx := context.Background()
	built, err := repo.Resolve(ctx, third.Digest)
	if err != nil {
		t.Fatalf("the built artifact is not in the registry: %v", err)
	}
	code := layerTitled(t, repo, built, "code")
	faas(t, "delete", "greeter", "-n", ns)
	eventually(t, 60*time.Second, "the Function gone", func() error {
		var fn faasv1.Function
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "greeter"}, &fn); err == nil {
			return fmt.Errorf("still there, finalizers %v", fn.Finalizers)
		}
		return nil
	})
	for _, d := range []string{third.Digest, third.Source, second.Digest} {
		if _, err := repo.Resolve(ctx, d); !errors.Is(err, errdef.ErrNotFound) {
			t.Errorf("artifact %s after the delete: %v, want not found", d, err)
		}
	}
	if len(buildJobs(t, ns, "greeter")) != 0 {
		t.Errorf("build Jobs outlive their Function")
	}
	kubectl(t, "exec", "-n", "faas-system", "deploy/faas-registry", "--", "/registry", "garbage-collect", "/etc/distribution/config.yml")
	if _, err := repo.Blobs().Resolve(ctx, code.String()); !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("the code blob %s after garbage collection: %v, want not found", code, err)
	}
}

// layerTitled returns the digest of the layer titled title of the manifest
// desc.
func layerTitled(t *testing.T, repo content.Fetcher, desc ocispec.Descriptor, title string) digest.Digest {
	t.Helper()
	raw, err := content.FetchAll(context.Background(), repo, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		if l.Annotations[ocispec.AnnotationTitle] == title {
			return l.Digest
		}
	}
	t.Fatalf("no layer %q in %s", title, raw)
	return ""
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestPackageOf5MiBOnThePoolAndDeploymentPaths: a package beyond the
// ConfigMap limit answers from a pool pod at zero and from a Deployment
// pod, both with its data intact.
func TestPackageOf5MiBOnThePoolAndDeploymentPaths(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "pkg5m")
	createPool(t, ns, 1)
	dir := filepath.Join(t.TempDir(), "big")
	data := make([]byte, 5<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "blob.bin"), string(data))
	writeFile(t, filepath.Join(dir, "handler.py"), `import hashlib, os

def handle(req):
    with open(os.path.join(os.path.dirname(__file__), "blob.bin"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
`)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])

	faas(t, "deploy", dir, "-n", ns, "--name", "big-pool")
	if got := httpGet(t, gw+"/invoke/big-pool."+ns); strings.TrimSpace(got) != want {
		t.Errorf("pool path answered %q, want %s", got, want)
	}
	// The gateway hands the pod over to its function after its first
	// answer: then it carries the function's label.
	eventually(t, 10*time.Second, "the pool pod handed over", func() error {
		pods := functionPods(t, ns, "big-pool")
		if len(pods) != 1 || pods[0].Labels[resources.PoolStateLabel] != resources.PoolSpecialized {
			return fmt.Errorf("the first call at zero was not served by a pool pod: %d pods %v", len(pods), podLabels(pods))
		}
		return nil
	})

	faas(t, "deploy", dir, "-n", ns, "--name", "big-deploy", "--min", "1")
	waitReady(t, ns, "big-deploy", faasv1.ReasonAvailable, 90*time.Second)
	if got := httpGet(t, gw+"/invoke/big-deploy."+ns); strings.TrimSpace(got) != want {
		t.Errorf("Deployment path answered %q, want %s", got, want)
	}
	for _, p := range functionPods(t, ns, "big-deploy") {
		if p.Labels[resources.PoolStateLabel] != "" {
			t.Errorf("big-deploy served by pool pod %s", p.Name)
		}
	}
}

func podLabels(pods []corev1.Pod) []map[string]string {
	out := make([]map[string]string, len(pods))
	for i := range pods {
		out[i] = pods[i].Labels
	}
	return out
}

// TestPackageBuildFailureReportsPipsMessage: requirements pip cannot
// satisfy fail the build; faas deploy shows pip's own message, the
// Function's conditions hold it, and a call is answered at once with it.
func TestPackageBuildFailureReportsPipsMessage(t *testing.T) {
	gw := ensurePlatform(t)
	wheelIndex(t)
	ns := newNamespace(t, "pkgfail")
	dir := filepath.Join(t.TempDir(), "broken")
	writeFile(t, filepath.Join(dir, "handler.py"), "import nosuchdep\n\ndef handle(req):\n    return 'no'\n")
	writeFile(t, filepath.Join(dir, "requirements.txt"), "nosuchdep==1.0\n")
	res := runFaas(t, "", "", nil, "deploy", dir, "-n", ns, "--wait-timeout", "4m")
	if res.code != exitBuildFailed {
		t.Fatalf("deploy of an unbuildable package exited %d, want %d", res.code, exitBuildFailed)
	}
	wantContains(t, "deploy's output", res.out+res.stderr, "No matching distribution found for nosuchdep==1.0")
	fn := getFunction(t, ns, "broken")
	c := meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionPackageBuilt)
	if c == nil || c.Reason != faasv1.ReasonBuildFailed || !strings.Contains(c.Message, "nosuchdep") {
		t.Errorf("PackageBuilt = %+v", c)
	}
	start := time.Now()
	code, body, err := call("GET", gw+"/invoke/broken."+ns, "")
	if err != nil || code != 503 || !strings.Contains(body, "nosuchdep") {
		t.Errorf("a call answered %d %q (%v), want 503 with pip's message", code, body, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the call waited %s", d)
	}
}
