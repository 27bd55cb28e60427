// Package python gives Go code the Python runner's own source files, so
// that there is one copy of them: `faas init` vendors the handler contract
// (Request, to_response and what they import) into a new function's folder
// from here, and its tests then run against exactly what the runner runs.
//
// It holds no Go logic and must not know about Kubernetes or the CLI.
package python
