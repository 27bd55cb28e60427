// Package fnspec turns a function's settings and code into the Function
// that `faas deploy` applies, and describes what an apply changed.
//
// It is pure: no clients, no files, no flags. It must not know how
// settings were found (package project does) or how they are sent.
package fnspec
