// Package resources builds the Kubernetes objects that serve a Function: the
// ConfigMap with its code, the Deployment of runner pods, the Service and
// the NetworkPolicies that isolate runner pods (networkpolicy.go).
// Builders are pure: they take a Function and settings and return objects;
// they never talk to the API server, so the operator (and later the pool
// manager) compare and apply what they return.
package resources
