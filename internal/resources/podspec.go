package resources

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// RunnerImages maps each runtime to its generic runner image.
type RunnerImages map[faasv1.Runtime]string

// Image returns the runner image of rt, or "" when the runtime is unknown.
func (r RunnerImages) Image(rt faasv1.Runtime) string { return r[rt] }

// runnerUID is the unprivileged user every runner runs as.
const runnerUID = 65532

// drainSeconds is how long a terminating pod keeps serving before SIGTERM,
// so endpoints are removed everywhere before the runner stops accepting.
const drainSeconds = 2

// MakePodSpec builds the spec of a runner pod serving fn: the generic runner
// image, the code mounted from the Function's ConfigMap and a locked-down
// security context (non-root, read-only root, no capabilities, no token).
func MakePodSpec(fn *faasv1.Function, image string) corev1.PodSpec {
	env := []corev1.EnvVar{
		{Name: runnerapi.EnvFunctionName, Value: fn.Name},
		{Name: runnerapi.EnvHandler, Value: fn.Spec.Handler},
		{Name: runnerapi.EnvCodePath, Value: CodeDir + "/" + CodeFileOf(fn.Spec.Runtime)},
		{Name: runnerapi.EnvTimeoutSeconds, Value: strconv.Itoa(int(fn.Spec.TimeoutSeconds))},
		{Name: runnerapi.EnvConcurrency, Value: strconv.Itoa(int(fn.Spec.Concurrency))},
	}
	if src := PackageSource(fn); src != nil {
		env = append(env, packageEnv(src)...)
	}
	env = append(env, fn.Spec.Env...)
	spec := runnerPodSpec(image, env, fn.Spec.Resources, int64(fn.Spec.TimeoutSeconds))
	spec.RuntimeClassName = fn.Spec.RuntimeClassName
	c := &spec.Containers[0]
	c.VolumeMounts = append([]corev1.VolumeMount{{Name: "code", MountPath: CodeDir, ReadOnly: true}}, c.VolumeMounts...)
	spec.Volumes = append([]corev1.Volume{{Name: "code", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(fn)},
	}}}}, spec.Volumes...)
	return spec
}

// runnerPodSpec is what every runner pod has, function or pool: the image,
// env, a readiness probe on the runner, a drain before SIGTERM, an
// in-memory /tmp and the locked-down security context.
func runnerPodSpec(image string, env []corev1.EnvVar, res corev1.ResourceRequirements, callTimeoutSeconds int64) corev1.PodSpec {
	pkgVolume, pkgMount := packageVolume()
	env = append([]corev1.EnvVar{
		{Name: runnerapi.EnvPort, Value: strconv.Itoa(runnerapi.CallPort)},
		{Name: runnerapi.EnvAdminPort, Value: strconv.Itoa(runnerapi.AdminPort)},
	}, env...)
	return corev1.PodSpec{
		AutomountServiceAccountToken:  ptr.To(false),
		EnableServiceLinks:            ptr.To(false),
		TerminationGracePeriodSeconds: ptr.To(callTimeoutSeconds + drainSeconds + 5),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To(int64(runnerUID)),
			RunAsGroup:     ptr.To(int64(runnerUID)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:            "runner",
			Image:           image,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Env:             env,
			Ports: []corev1.ContainerPort{
				{Name: "http", ContainerPort: runnerapi.CallPort, Protocol: corev1.ProtocolTCP},
				{Name: "admin", ContainerPort: runnerapi.AdminPort, Protocol: corev1.ProtocolTCP},
			},
			Resources: res,
			ReadinessProbe: &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: runnerapi.ReadyPath, Port: intstr.FromString("admin"),
				}},
				PeriodSeconds:    1,
				TimeoutSeconds:   1,
				FailureThreshold: 3, // one slow probe on a busy node must not drop a pod
				SuccessThreshold: 1,
			},
			Lifecycle: &corev1.Lifecycle{
				PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: drainSeconds}},
			},
			TerminationMessagePath:   corev1.TerminationMessagePathDefault,
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}, pkgMount},
		}},
		Volumes: []corev1.Volume{
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
				Medium: corev1.StorageMediumMemory, SizeLimit: resource.NewQuantity(64<<20, resource.BinarySI),
			}}},
			pkgVolume,
		},
	}
}
