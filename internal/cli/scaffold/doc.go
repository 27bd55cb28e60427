// Package scaffold writes the folder `faas init` makes for a new function:
// the handler, a unittest for it that needs no cluster, faas.yaml and a
// README. The test runs against a vendored copy of the runner's own
// handler contract, taken from runtimes/python at build time, so the copy
// cannot drift from the runner the binary was built with.
//
// It knows the templates and the files' layout; it must not know about
// clients or the command line.
package scaffold
