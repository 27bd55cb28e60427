package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RuntimePoolSpec is how many generic, unspecialized runner pods of a
// runtime to keep ready in a namespace, for the first call to a function
// at zero.
type RuntimePoolSpec struct {
	// runtime of the pool's runner pods; it cannot change (its pods run
	// it): make a new pool instead.
	// +optional
	// +kubebuilder:default=python
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="runtime is immutable: make a new pool"
	Runtime Runtime `json:"runtime,omitempty"`

	// size is the number of idle pods kept ready; a claimed pod is replaced
	// at once. 0 empties the pool (calls then take the Deployment path).
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Size *int32 `json:"size,omitempty"`

	// resources of each pool pod; a Function asking for other resources is
	// never served from the pool.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// RuntimePoolStatus is what the operator observed of the pool's pods.
type RuntimePoolStatus struct {
	// pods is the number of idle pool pods, ready or starting.
	// +optional
	Pods int32 `json:"pods"`
	// readyPods is the number of idle pool pods ready to be specialized.
	// +optional
	ReadyPods int32 `json:"readyPods"`
	// observedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// idlePods are the pool's idle pods, ready or starting. The gateway
	// reads them here, so it needs no right to read pods. Always sent, null when
	// empty, so a merge patch of the status clears it.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	IdlePods []PoolPod `json:"idlePods"`
}

// PoolPod is one pool pod as the operator observed it.
type PoolPod struct {
	// name of the pod.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// podIP is the pod's address, once it has one.
	// +optional
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="podIP must be an IP address"
	PodIP string `json:"podIP,omitempty"`
	// ready is the pod's Ready condition.
	// +optional
	Ready bool `json:"ready,omitempty"`
	// specHash identifies the specialization a specialized pod runs.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	SpecHash string `json:"specHash,omitempty"`
}

// RuntimePool keeps generic runner pods warm in its namespace; the gateway
// specializes one with a function's code on that function's first call.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=pool,categories=faas
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Runtime",type=string,JSONPath=`.spec.runtime`
// +kubebuilder:printcolumn:name="Size",type=integer,JSONPath=`.spec.size`
// +kubebuilder:printcolumn:name="Pods",type=integer,JSONPath=`.status.pods`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyPods`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 40",message="metadata.name must be at most 40 characters: it prefixes the pool's pod names"
type RuntimePool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec RuntimePoolSpec `json:"spec"`
	// +optional
	Status RuntimePoolStatus `json:"status,omitempty"`
}

// RuntimePoolList is a list of RuntimePools.
// +kubebuilder:object:root=true
type RuntimePoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RuntimePool `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RuntimePool{}, &RuntimePoolList{})
}
