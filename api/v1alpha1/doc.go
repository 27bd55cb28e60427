// Package v1alpha1 holds the faas.example.com/v1alpha1 API: the Function
// kind a user applies to run a piece of code. It knows nothing of how a
// Function is served; the operator and the gateway give it meaning.
// +kubebuilder:object:generate=true
// +groupName=faas.example.com
package v1alpha1
