package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// Labels and annotations of a package build Job and its pod. A Job runs in
// the platform's namespace, so it names its Function by labels, not by an
// owner reference.
const (
	BuildFunctionNamespaceLabel = "faas.example.com/function-namespace"
	BuildDependenciesAnnotation = "faas.example.com/dependencies"
	BuildSourceAnnotation       = "faas.example.com/source"

	// Container names of a build pod, in order: fetch the source, install
	// its requirements, push the built artifact.
	BuildFetchContainer = "fetch"
	BuildPipContainer   = "pip"
	BuildPushContainer  = "push"

	// PackagesSecret holds the registry's credentials and the fetcher's
	// ticket key, in the platform's namespace. The operator creates it
	// for the platform's own registry; to use another registry (Harbor,
	// GHCR, ECR, ...), create it first with that registry's address and
	// credentials (ticketKey: 32 random bytes).
	PackagesSecret = "faas-packages"
	// Keys of PackagesSecret.
	PackagesSecretUsername  = "username"
	PackagesSecretPassword  = "password"
	PackagesSecretHtpasswd  = "htpasswd"
	PackagesSecretTicketKey = "ticketKey"
	// PackagesSecretRegistry, optional, is the registry as host[:port][/path]
	// (e.g. ghcr.io/my-org); absent, the platform's own registry Service.
	PackagesSecretRegistry = "registry"
	// PackagesSecretPlainHTTP is "true" to talk plain HTTP to the
	// registry; the default for the platform's own registry, not for
	// another.
	PackagesSecretPlainHTTP = "plainHTTP"
	// PipSecret, optional, in the platform's namespace, holds pip's
	// settings as environment variables (PIP_INDEX_URL,
	// PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST, PIP_FIND_LINKS, ...), given to
	// the pip step of every build.
	PipSecret = "faas-pip"
)

// BuildParams is what a build Job needs besides its Function.
type BuildParams struct {
	// Namespace is the platform's namespace, where builds run.
	Namespace string
	// Registry is the registry's host:port; PlainHTTP talks HTTP to it.
	Registry  string
	PlainHTTP bool
	// Repository is the Function's repository in it.
	Repository string
	// Source is the source artifact's digest; Dependencies its
	// dependency key.
	Source, Dependencies string
	// PackageImage has the faas-package binary; RuntimeImage is the
	// function's runner image, which has pip.
	PackageImage, RuntimeImage string
	// DeadlineSeconds bounds the whole build.
	DeadlineSeconds int64
}

// buildWorkBytes bounds a build's scratch space: the source (≤100 MiB),
// the installed dependencies (≤100 MiB) and pip's downloads.
const buildWorkBytes = 1 << 30

// pushTmpBytes bounds the push step's /tmp, which holds the deps layer's
// file: at most the 100 MiB a package may unpack to, gzipped, with up to
// 50,000 tar headers, with room to spare.
const pushTmpBytes = 256 << 20

// BuildJobName names the build of fn's dependencies with key deps: one Job
// per Function and dependency key.
func BuildJobName(fn *faasv1.Function, deps string) string {
	sum := sha256.Sum256([]byte(fn.Namespace + "/" + fn.Name + "/" + deps))
	return "fn-build-" + hex.EncodeToString(sum[:])[:20]
}

// BuildLabels are the labels of fn's build Jobs and their pods.
func BuildLabels(fn *faasv1.Function) map[string]string {
	return map[string]string{
		FunctionLabel:               fn.Name,
		BuildFunctionNamespaceLabel: fn.Namespace,
		ComponentLabel:              "build",
		ManagedByLabel:              ManagedBy,
	}
}

// MakeBuildJob builds the Job that installs the requirements of fn's
// source p.Source with pip in the function's own runner image and pushes
// the built artifact. Only the fetch and push steps get the registry's
// credentials; pip, which may run code from the index (sdists), gets the
// pip settings only, and shares nothing with push but /work, whose deps
// folder push refuses if it is a link. It runs once (no retries),
// non-root, with a read-only root filesystem, no API token and every
// capability dropped; the push step writes the result to its termination
// message, so the Job needs no API rights.
func MakeBuildJob(fn *faasv1.Function, p BuildParams) *batchv1.Job {
	labels := BuildLabels(fn)
	creds := []corev1.VolumeMount{{Name: "credentials", MountPath: "/etc/faas-packages", ReadOnly: true}}
	work := corev1.VolumeMount{Name: "work", MountPath: "/work"}
	// pip's step and push each have their own /tmp: what pip's step
	// leaves there (it runs the requirements' code) push never reads.
	pipTmp := corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"}
	pushTmp := corev1.VolumeMount{Name: "push-tmp", MountPath: "/tmp"}
	common := []string{"--registry", p.Registry, "--repository", p.Repository, "--credentials-dir", "/etc/faas-packages",
		"--plain-http=" + strconv.FormatBool(p.PlainHTTP)}
	step := func(name, image string, args []string, mounts ...corev1.VolumeMount) corev1.Container {
		return corev1.Container{
			Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent, Args: args,
			VolumeMounts:             mounts,
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
			},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}
	}
	fetch := step(BuildFetchContainer, p.PackageImage,
		append([]string{"build-fetch", "--digest", p.Source, "--dest", "/work/src"}, common...), append(creds, work)...)
	pip := step(BuildPipContainer, p.RuntimeImage, nil, work, pipTmp)
	// Bytecode is compiled once here, checked by nothing but its source's
	// hash being recorded: a package is immutable (addressed by digest)
	// and its files' times are zeroed when packed, so timestamp-checked
	// .pyc files would be stale and every import would compile again.
	// compileall runs isolated (-I: no PYTHON* variables, user site or
	// current folder on the path), so nothing an sdist's build left in
	// HOME or the working folder runs in it.
	pip.Command = []string{"/bin/sh", "-c", `python3 -m pip install --no-input --disable-pip-version-check ` +
		`--no-cache-dir --no-warn-script-location --progress-bar off --no-compile ` +
		`--target /work/deps -r /work/src/root/requirements/requirements.txt && ` +
		`python3 -I -m compileall -q -j 0 --invalidation-mode unchecked-hash /work/deps >/dev/null`}
	// PYTHONNOUSERSITE: no .pth file an sdist's build wrote into
	// HOME's user site runs at the next start of Python. PYTHONUTF8: pip
	// reads requirements.txt as UTF-8 whatever the image's locale, as
	// build-fetch checked it (packagebuild.ValidateRequirements).
	pip.Env = []corev1.EnvVar{{Name: "HOME", Value: "/tmp"}, {Name: "PYTHONDONTWRITEBYTECODE", Value: "1"},
		{Name: "PYTHONNOUSERSITE", Value: "1"}, {Name: "PYTHONUTF8", Value: "1"}}
	pip.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: PipSecret}, Optional: ptr.To(true)}}}
	// push packs what pip's step left in /work/deps without following
	// links (--work-dir is the volume's mount point, which pip's step
	// cannot replace), so a link there to push's credentials is refused.
	push := step(BuildPushContainer, p.PackageImage,
		append([]string{"build-push", "--source", p.Source, "--work-dir", "/work", "--deps", "/work/deps", "--tmp-dir", "/tmp",
			"--termination-log", "/dev/termination-log"}, common...),
		append(creds, work, pushTmp)...)
	push.TerminationMessagePolicy = corev1.TerminationMessageReadFile

	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: BuildJobName(fn, p.Dependencies), Namespace: p.Namespace, Labels: labels,
			Annotations: map[string]string{BuildDependenciesAnnotation: p.Dependencies, BuildSourceAnnotation: p.Source},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To(int32(0)),
			ActiveDeadlineSeconds:   ptr.To(p.DeadlineSeconds),
			TTLSecondsAfterFinished: ptr.To(int32(3600)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					// pip may run the author's code (sdists): under the
					// sandbox the function asks for, if any.
					RuntimeClassName:             fn.Spec.RuntimeClassName,
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						RunAsUser:      ptr.To(int64(runnerUID)),
						RunAsGroup:     ptr.To(int64(runnerUID)),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					InitContainers: []corev1.Container{fetch, pip},
					Containers:     []corev1.Container{push},
					Volumes: []corev1.Volume{
						{Name: "credentials", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
							SecretName: PackagesSecret,
							Items:      []corev1.KeyToPath{{Key: "username", Path: "username"}, {Key: "password", Path: "password"}},
						}}},
						{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
							SizeLimit: resource.NewQuantity(buildWorkBytes, resource.BinarySI)}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
							SizeLimit: resource.NewQuantity(256<<20, resource.BinarySI)}}},
						{Name: "push-tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
							SizeLimit: resource.NewQuantity(pushTmpBytes, resource.BinarySI)}}},
					},
				},
			},
		},
	}
}
