//go:build e2e && bench

package e2e

import (
	"fmt"
	"testing"
)

// goalPrefix starts every line of the goals table; `make bench` collects the
// lines with it from all benchmarks and prints them together at the end.
const goalPrefix = "GOAL|"

// goal reports one row of the performance goals table: what was measured,
// the figure, the goal, and whether this run met it. It never fails the
// test: a goal missed on a loaded machine is a number to read, not a flake.
func goal(t *testing.T, measure, figure, target string, met bool) {
	t.Helper()
	verdict := "missed"
	if met {
		verdict = "met"
	}
	t.Logf("%s%s|%s|%s|%s", goalPrefix, measure, figure, target, verdict)
}

// ratioOf formats a/b as a ratio.
func ratioOf(a, b float64) string { return fmt.Sprintf("%.2f×", a/b) }
