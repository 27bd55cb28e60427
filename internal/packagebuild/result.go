package packagebuild

// Result is what build-push reports, as one JSON line, in its container's
// termination message; the operator parses the same type.
type Result struct {
	// Digest is the built artifact's manifest digest, "sha256:<hex>":
	// what runners load.
	Digest string `json:"digest"`
	// DepsLayer is the digest of its deps layer, which a later code-only
	// change reuses (CodeOnly).
	DepsLayer string `json:"depsLayer"`
}
