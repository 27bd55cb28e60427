// Package cli is the faas command: the daily workflow of a function
// without YAML — init, deploy, invoke, list, describe, logs, delete — with
// kubectl's conventions (--kubeconfig, --context, -n, -o) and documented
// exit codes (exitcode.go).
//
// One file per command; each command only parses its flags, calls the
// packages below it and prints. Errors are turned into one line and an
// exit code in one place, errors.go. Finding files and deciding between
// inline code and a package (project), packing and pushing a package's
// source (artifact), building and diffing the Function (fnspec), judging
// readiness and builds (readiness), port-forwarding (portforward),
// following logs (podlogs) and printing (printers) live in their own
// packages; registry.go finds the package registry and its credentials. It must not know how the gateway
// or the operator work inside, only their public contracts: the Function
// API, the objects' names and labels, /invoke/ paths and their headers.
package cli
