package resources

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// packageDirBytes bounds the emptyDir a runner unpacks its package into: a
// package is at most 100 MiB unpacked (internal/packages.DefaultMaxBytes),
// plus the Python bytecode its imports may write.
const packageDirBytes = 160 << 20

// PackageBuilt reports whether fn's package, if it has one, is built: its
// status names the artifact runners load. A Function with inline code is
// always built.
func PackageBuilt(fn *faasv1.Function) bool {
	if fn.Spec.Package == nil {
		return true
	}
	p := fn.Status.Package
	return p != nil && p.Digest != "" && p.FetchURL != "" && p.Ticket != ""
}

// PackageSource is what fn's runners load instead of inline code, or nil
// when fn has inline code or its package is not built yet.
func PackageSource(fn *faasv1.Function) *runnerapi.PackageSource {
	if fn.Spec.Package == nil || !PackageBuilt(fn) {
		return nil
	}
	p := fn.Status.Package
	module := fn.Spec.Package.Module
	if module == "" {
		module = runnerapi.DefaultPackageModule
	}
	return &runnerapi.PackageSource{URL: p.FetchURL, Ticket: p.Ticket, Digest: p.Digest, Module: module}
}

// packageEnv is the env of a deployment-mode runner loading src.
func packageEnv(src *runnerapi.PackageSource) []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: runnerapi.EnvPackageURL, Value: src.URL},
		{Name: runnerapi.EnvPackageTicket, Value: src.Ticket},
		{Name: runnerapi.EnvPackageDigest, Value: src.Digest},
		{Name: runnerapi.EnvPackageModule, Value: src.Module},
	}
}

// packageVolume is the emptyDir every runner pod unpacks a package into;
// pool pods have it too, since any function may be given to them.
func packageVolume() (corev1.Volume, corev1.VolumeMount) {
	// In memory: unpacking thousands of files onto the node's disk took
	// 56 ms to over a second here, on tmpfs a few ms per 1,000. It counts
	// against the pod's memory limit, as much as the package unpacked.
	return corev1.Volume{Name: "package", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: resource.NewQuantity(packageDirBytes, resource.BinarySI),
		}}},
		corev1.VolumeMount{Name: "package", MountPath: runnerapi.DefaultPackageDir}
}
