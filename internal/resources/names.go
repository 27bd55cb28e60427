package resources

import (
	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

const (
	// FunctionLabel is on every object made for a Function; its value is the
	// Function's name. Gateways and the operator select pods by it.
	FunctionLabel = "faas.example.com/function"
	// ComponentLabel tells what part of the platform an object is.
	ComponentLabel = "app.kubernetes.io/component"
	// ManagedByLabel marks objects the operator owns.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedBy is ManagedByLabel's value.
	ManagedBy = "faas-operator"

	// PoolLabel names the RuntimePool a pool pod was made by.
	PoolLabel = "faas.example.com/pool"
	// PoolStateLabel is PoolIdle on a pool pod waiting to be claimed and
	// PoolSpecialized once the gateway has given it a function.
	PoolStateLabel  = "faas.example.com/pool-state"
	PoolIdle        = "idle"
	PoolSpecialized = "specialized"
	// RuntimeLabel is the runtime of a pool pod.
	RuntimeLabel = "faas.example.com/runtime"

	// CodeHashAnnotation on the pod template rolls the pods when the code changes.
	CodeHashAnnotation = "faas.example.com/code-hash"
	// SpecHashAnnotation on a specialized pool pod is the SHA-256 of the
	// specialization it accepted: code, handler, env, timeout, concurrency.
	SpecHashAnnotation = "faas.example.com/spec-hash"

	// CodeFile is the ConfigMap key, and file name in the pod, of Python
	// code; CodeFileOf names it for every runtime.
	CodeFile = "function.py"
	// CodeDir is where the code ConfigMap is mounted in the runner.
	CodeDir = "/var/faas/code"
)

// DeploymentName is the name of the Function's Deployment.
func DeploymentName(fn *faasv1.Function) string { return "fn-" + fn.Name + "-deploy" }

// ServiceName is the name of the Function's Service.
func ServiceName(fn *faasv1.Function) string { return "fn-" + fn.Name }

// ConfigMapName is the name of the ConfigMap holding the Function's code.
func ConfigMapName(fn *faasv1.Function) string { return "fn-" + fn.Name + "-code" }

// SelectorLabels select the Function's pods.
func SelectorLabels(fn *faasv1.Function) map[string]string {
	return map[string]string{FunctionLabel: fn.Name}
}

// Labels are the labels of every object made for the Function.
func Labels(fn *faasv1.Function) map[string]string {
	return map[string]string{
		FunctionLabel:  fn.Name,
		ComponentLabel: "function",
		ManagedByLabel: ManagedBy,
	}
}

// CodeFileOf is the ConfigMap key, and file name in the pod, of code of
// runtime rt: the name load errors and stack traces show.
func CodeFileOf(rt faasv1.Runtime) string {
	if rt == faasv1.RuntimeNodeJS {
		return "function.js"
	}
	return CodeFile
}
