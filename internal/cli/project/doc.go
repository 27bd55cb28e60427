// Package project reads a function from disk: a folder with a handler file
// and an optional faas.yaml, or a single source file, into the settings and
// source files `faas deploy` turns into a Function.
//
// It knows the on-disk layout and the faas.yaml format only; it must not
// know about Kubernetes clients or the command line. Sources are a list so
// that multi-file functions can be added without changing its callers.
package project
