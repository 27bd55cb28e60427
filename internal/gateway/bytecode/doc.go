// Package bytecode keeps functions' code compiled ahead of time, so that a
// pool pod's specialization loads bytecode instead of compiling the source
// on the cold path.
//
// The bytecode comes from idle pool pods: compiling runs none of the code,
// so a pod that runs only the runner's own code can compile anyone's. A
// Filler asks one when a Function is created or changed, in the background,
// a few at a time; a Cache keeps the answers in a bounded LRU keyed by
// namespace, runtime and the SHA-256 of the source that the gateway
// computes itself. Keying by namespace keeps a pool pod of one namespace
// from supplying bytecode to another namespace's functions.
//
// It must not know about Kubernetes objects, HTTP or how a pod is picked:
// its Compiler is declared here and implemented by the pool.
package bytecode
