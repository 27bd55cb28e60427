package gateway

import (
	"context"
	"time"
)

// every runs fn every interval until ctx is done: the gateway's background
// loops (healer, pool warmer, janitor) share it.
func every(ctx context.Context, interval time.Duration, fn func()) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		fn()
	}
}
