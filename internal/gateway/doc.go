// Package gateway is the HTTP front door of every function: it routes
// /invoke/<name> to a ready pod of the function, holds calls while the
// function scales from zero (one scale-up per burst), and scales idle
// functions back down. It learns Functions and endpoints from informers and
// scales through the Function's scale subresource; it never creates pods
// or Deployments itself. With a RuntimePool in the function's namespace, a
// function at zero is served by specializing an idle pool pod instead.
//
// The gateway reads no pods: the operator lists the pool pods it needs in
// the RuntimePool and Function statuses. It may only patch and delete pool
// pods, for the hand-over, and config/gateway/admission-policy.yaml limits
// those writes to exactly that.
//
// +kubebuilder:rbac:groups=faas.example.com,resources=functions,verbs=get;list;watch
// +kubebuilder:rbac:groups=faas.example.com,resources=functions/scale,verbs=get;update;patch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=faas.example.com,resources=runtimepools,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=patch;delete
// +kubebuilder:rbac:groups="",namespace=faas-system,resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=faas-system,resources=leases,verbs=get;list;watch;create;update;patch;delete
package gateway
