package resources

import (
	"testing"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

func packageFunction(digest string) *faasv1.Function {
	fn := &faasv1.Function{Spec: faasv1.FunctionSpec{Runtime: faasv1.RuntimePython, Handler: "handle",
		Package: &faasv1.FunctionPackage{Source: "sha256:src", Module: "app.main"}, MaxReplicas: 3, MinReplicas: 1}}
	fn.Name, fn.Namespace = "fn", "ns"
	if digest != "" {
		fn.Status.Package = &faasv1.PackageStatus{Source: "sha256:src", Digest: digest, FetchURL: "http://10.0.0.9:8090/v1/packages/ns/fn/" + digest, Ticket: "t"}
	}
	return fn
}

func TestAnUnbuiltPackageRunsNothing(t *testing.T) {
	fn := packageFunction("")
	if PackageBuilt(fn) || PackageSource(fn) != nil || DesiredReplicas(fn) != 0 {
		t.Errorf("unbuilt: built %v, source %+v, replicas %d", PackageBuilt(fn), PackageSource(fn), DesiredReplicas(fn))
	}
	fn = packageFunction("sha256:b1")
	if !PackageBuilt(fn) || DesiredReplicas(fn) != 1 {
		t.Errorf("built: built %v, replicas %d", PackageBuilt(fn), DesiredReplicas(fn))
	}
}

func TestAPackagesPodsLoadTheBuiltArtifact(t *testing.T) {
	fn := packageFunction("sha256:b1")
	env := map[string]string{}
	spec := MakePodSpec(fn, "img")
	for _, e := range spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	want := map[string]string{runnerapi.EnvPackageDigest: "sha256:b1", runnerapi.EnvPackageModule: "app.main",
		runnerapi.EnvPackageTicket: "t", runnerapi.EnvPackageURL: fn.Status.Package.FetchURL}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	var mounted bool
	for _, m := range spec.Containers[0].VolumeMounts {
		mounted = mounted || m.MountPath == runnerapi.DefaultPackageDir
	}
	if !mounted {
		t.Error("no package directory mounted")
	}
	// A new build rolls the pods; a new ticket or fetcher address alone
	// does not change what is loaded.
	h1 := CodeHash(fn)
	fn.Status.Package.Ticket, fn.Status.Package.FetchURL = "t2", "http://10.0.0.10:8090/x"
	if CodeHash(fn) != h1 {
		t.Error("the code hash changed with the ticket")
	}
	if CodeHash(packageFunction("sha256:b2")) == h1 {
		t.Error("the code hash did not change with the built digest")
	}
}
