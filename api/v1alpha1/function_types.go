package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Runtime names the language runtime that runs a Function's code.
// +kubebuilder:validation:Enum=python;nodejs
type Runtime string

const (
	// RuntimePython runs the code with the faas-python-runner image.
	RuntimePython Runtime = "python"
	// RuntimeNodeJS runs the code, a CommonJS module, with the
	// faas-nodejs-runner image (runtimes/nodejs).
	RuntimeNodeJS Runtime = "nodejs"
)

// MaxCodeBytes bounds a Function's source: it is stored in one ConfigMap,
// which the API server limits to 1 MiB, and the rest is kept as margin.
const MaxCodeBytes = 768 * 1024

// MaxNameLength bounds a Function's name so that every object derived from
// it, up to the Deployment fn-<name>-deploy, is a valid DNS label.
const MaxNameLength = 52

// FunctionSpec is what the user wants to run and how far it may scale.
// +kubebuilder:validation:XValidation:rule="self.minReplicas <= self.maxReplicas",message="spec.minReplicas must not be greater than spec.maxReplicas",fieldPath=".minReplicas"
// +kubebuilder:validation:XValidation:rule="has(self.code) != has(self.__package__)",message="exactly one of spec.code and spec.package must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.__package__) || self.runtime == 'python'",message="spec.package is supported for the python runtime only; use spec.code for nodejs",fieldPath=".package"
type FunctionSpec struct {
	// runtime is the language of code.
	// +optional
	// +kubebuilder:default=python
	Runtime Runtime `json:"runtime,omitempty"`

	// code is the function's source, inline. At most 768 KiB (UTF-8).
	// Exactly one of code and package is set.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=786432
	// +kubebuilder:validation:XValidation:rule="size(bytes(self)) <= 786432",message="spec.code must be at most 768 KiB: it is stored in a ConfigMap"
	Code string `json:"code,omitempty"`

	// package is the function's code as a package: a folder with modules,
	// data files and an optional requirements.txt, pushed to the platform's
	// registry as a source artifact and built in the cluster. Exactly one
	// of code and package is set.
	// +optional
	Package *FunctionPackage `json:"package,omitempty"`

	// handler is the name of the function in code that answers calls.
	// +optional
	// +kubebuilder:default=handle
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Handler string `json:"handler,omitempty"`

	// minReplicas is the fewest pods the function keeps; 0 lets it scale to zero.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	MinReplicas int32 `json:"minReplicas,omitempty"`

	// maxReplicas is the most pods the function may scale to.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxReplicas int32 `json:"maxReplicas,omitempty"`

	// replicas is the desired number of pods, set by the gateway, `kubectl
	// scale` or an autoscaler through the scale subresource. The function
	// runs within [minReplicas, maxReplicas] whatever it says.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`

	// env is passed to the function's process.
	// +optional
	// +listType=map
	// +listMapKey=name
	Env []corev1.EnvVar `json:"env,omitempty"`

	// resources are the runner container's requests and limits.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// timeoutSeconds bounds one call; a call running longer is answered 504.
	// +optional
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=900
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`

	// concurrency is how many calls one pod serves at once.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Concurrency int32 `json:"concurrency,omitempty"`

	// idleTimeoutSeconds is how long a function with no calls stays up before
	// the gateway scales it back to minReplicas.
	// +optional
	// +kubebuilder:default=60
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	IdleTimeoutSeconds int32 `json:"idleTimeoutSeconds,omitempty"`

	// targetUtilization is the share of concurrency, in percent, the
	// autoscaler aims to keep each pod busy at: with concurrency 10 and 70,
	// it wants one pod per 7 calls in flight or waiting.
	// +optional
	// +kubebuilder:default=70
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=100
	TargetUtilization int32 `json:"targetUtilization,omitempty"`

	// scaleDownDelaySeconds is how long demand must have stayed lower before
	// the autoscaler removes pods; scaling up is never delayed. Scaling to
	// zero is governed by idleTimeoutSeconds.
	// +optional
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3600
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`

	// egress opts the function's pods out of the platform's default egress
	// blocks (the API server and the cloud metadata address).
	// +optional
	Egress FunctionEgress `json:"egress,omitempty"`

	// runtimeClassName runs the function's pods with this RuntimeClass, for
	// example gVisor or Kata, for code that is not trusted. Such a function
	// never uses a RuntimePool.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	RuntimeClassName *string `json:"runtimeClassName,omitempty"`
}

// FunctionPackage names a package's source artifact.
type FunctionPackage struct {
	// source is the digest of the source artifact, pushed untagged to the
	// platform registry's repository faas/<namespace>/<name>.
	// +required
	// +kubebuilder:validation:Pattern=`^sha256:[a-f0-9]{64}$`
	Source string `json:"source"`

	// module is the module of the folder holding the handler: "handler"
	// for handler.py, "app.main" for app/main.py.
	// +optional
	// +kubebuilder:default=handler
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`
	Module string `json:"module,omitempty"`
}

// PackageStatus is the build of a Function's package.
type PackageStatus struct {
	// source is the spec.package.source this status describes.
	// +optional
	Source string `json:"source,omitempty"`

	// dependencies keys the dependency layer of the built artifact: the
	// requirements, the runtime image and the pip settings it was built
	// with. A new source with the same key is not built again.
	// +optional
	Dependencies string `json:"dependencies,omitempty"`

	// dependenciesLayer is the digest of the dependency layer built for
	// dependencies, reused by a code-only change.
	// +optional
	DependenciesLayer string `json:"dependenciesLayer,omitempty"`

	// digest is the built artifact the runners fetch: the source's code
	// and the installed dependencies. Empty until the build of source
	// succeeded.
	// +optional
	Digest string `json:"digest,omitempty"`

	// fetchURL is where the function's runners fetch digest: the
	// node-local fetcher's URL of it.
	// +optional
	FetchURL string `json:"fetchURL,omitempty"`

	// ticket lets the function's runners, and only them, fetch digest
	// from the fetcher. It grants nothing else.
	// +optional
	Ticket string `json:"ticket,omitempty"`

	// previous are artifacts this Function referenced before and the
	// operator has not deleted from the registry yet.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Previous []string `json:"previous,omitempty"`
}

// FunctionEgress lifts the default egress blocks of a function's pods.
type FunctionEgress struct {
	// allowAPIServer lets the function's pods reach the Kubernetes API
	// server. Blocked by default: a function has no business there.
	// +optional
	AllowAPIServer bool `json:"allowAPIServer,omitempty"`

	// allowCloudMetadata lets the function's pods reach the cloud metadata
	// address 169.254.169.254, which hands out the node's credentials on
	// most clouds. Blocked by default.
	// +optional
	AllowCloudMetadata bool `json:"allowCloudMetadata,omitempty"`
}

// Condition types and reasons of a Function.
const (
	// ConditionReady is True when the function can answer calls: it has a
	// ready pod, or it is scaled to zero and will start one on demand.
	ConditionReady = "Ready"
	// ConditionPackageBuilt is True when spec.package's source is built
	// into status.package.digest; False with ReasonBuilding while it is
	// built, or ReasonBuildFailed with pip's message.
	ConditionPackageBuilt = "PackageBuilt"

	ReasonBuilding       = "Building"
	ReasonBuildFailed    = "BuildFailed"
	ReasonBuilt          = "Built"
	ReasonPackageInvalid = "PackageInvalid"

	ReasonAvailable       = "Available"
	ReasonScaledToZero    = "ScaledToZero"
	ReasonStarting        = "Starting"
	ReasonLoadFailed      = "LoadFailed"
	ReasonReconcileFailed = "ReconcileFailed"
)

// FunctionStatus is what the operator observed of the function's pods.
type FunctionStatus struct {
	// replicas is the number of pods the function has now.
	// +optional
	Replicas int32 `json:"replicas"`

	// desiredReplicas is the number of pods the function is asked to have:
	// spec.replicas within [minReplicas, maxReplicas].
	// +optional
	DesiredReplicas int32 `json:"desiredReplicas"`

	// readyReplicas is the number of pods that answer calls.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`

	// selector selects the function's pods, for the scale subresource.
	// +optional
	Selector string `json:"selector,omitempty"`

	// observedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// package is the build of spec.package.
	// +optional
	Package *PackageStatus `json:"package,omitempty"`

	// codeHash identifies the code, handler and runtime the pods run.
	// +optional
	CodeHash string `json:"codeHash,omitempty"`

	// conditions are the Function's observed states; see ConditionReady.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// poolPods are the live pool pods specialized for this function, which
	// it owns next to its Deployment's. The gateway reads them here, so it
	// needs no right to read pods. Always sent, null when
	// empty, so a merge patch of the status clears it.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=1000
	PoolPods []PoolPod `json:"poolPods"`
}

// Function is a piece of code served over HTTP, scaled from zero on demand.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=fn,categories=faas
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Runtime",type=string,JSONPath=`.spec.runtime`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.status.desiredReplicas`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.replicas`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Min",type=integer,JSONPath=`.spec.minReplicas`,priority=1
// +kubebuilder:printcolumn:name="Max",type=integer,JSONPath=`.spec.maxReplicas`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS label (lower-case letters, digits and '-'): it names the function's Service"
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 52",message="metadata.name must be at most 52 characters: it names the function's Deployment fn-<name>-deploy"
type Function struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec FunctionSpec `json:"spec"`
	// +optional
	Status FunctionStatus `json:"status,omitempty"`
}

// FunctionList is a list of Functions.
// +kubebuilder:object:root=true
type FunctionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Function `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Function{}, &FunctionList{})
}
