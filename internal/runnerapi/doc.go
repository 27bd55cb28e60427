// Package runnerapi is the contract between the platform and every runner
// (runtimes/<runtime>): its ports, internal paths, environment, the JSON of
// a specialization, of /_/stats and of errors, the defaults and the exit
// codes of a load failure and of a failed package fetch. It is the one source of these in Go; the Go test
// writes runtimes/contract/runner.json from it, and each runtime's contract
// test reads that file, so drift on either side fails a test.
//
// It must not know about Kubernetes objects, the gateway or the operator.
package runnerapi
