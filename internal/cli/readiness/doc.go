// Package readiness decides, from a Function and the objects made for it,
// whether it is ready to serve its current spec, still on its way, or
// failed — what `faas deploy --wait` waits for and shows.
//
// It is pure: the caller reads the objects. It must not know about
// clients, flags or output.
package readiness
