// Package compiled keeps functions' inline Python code compiled ahead of
// their first call, so that specializing a pool pod only unmarshals it: a
// Warmer asks the platform's compiler (runnerapi.CompilePath) for the code
// of every new function version, one at a time, off the call path, and
// keeps the answers in a Cache bounded in bytes that the pool's claimer
// reads (runnerapi.SpecLengthHeader). It waits for one source per function
// (the latest), tries a failing one a bounded number of times, and never
// again one that does not compile.
//
// It must not know Functions, pools or pods: it is told an owner, a code
// key and its source, and where the compiler is. A miss, or a compiler that is down,
// costs only speed: the runner then compiles the source itself.
package compiled
