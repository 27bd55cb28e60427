// Package project reads a function from disk: a folder with a handler file
// and an optional faas.yaml, or a single source file, into the settings and
// source files `faas deploy` turns into a Function. It also decides whether
// a folder deploys as inline code or as a package (Decide), and which of
// its files a package leaves out (Excluded).
//
// It knows the on-disk layout and the faas.yaml format only; it must not
// know about Kubernetes clients, registries or the command line.
package project
