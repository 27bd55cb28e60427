package project

import "errors"

// ErrInvalid marks settings or files that cannot make a Function; the
// error's message says which and why.
var ErrInvalid = errors.New("invalid settings")
