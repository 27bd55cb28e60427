package capacity

import "errors"

// ErrQueueFull is returned when MaxWaiting calls are already waiting.
var ErrQueueFull = errors.New("too many calls waiting for the function")
