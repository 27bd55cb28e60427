package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// CodeHash identifies what the runner loads: runtime, handler, code (or the
// built package and its module) and the env the code sees while loading. It changes exactly when the pods must be
// replaced to serve new code, and a load failure is recorded against it: a
// failure says nothing about code or env that came after.
func CodeHash(fn *faasv1.Function) string {
	h := sha256.New()
	for _, part := range []string{string(fn.Spec.Runtime), fn.Spec.Handler, fn.Spec.Code} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	if src := PackageSource(fn); src != nil {
		// The ticket and URL are how to fetch, not what is loaded.
		h.Write([]byte("package\x00" + src.Digest + "\x00" + src.Module + "\x00"))
	}
	env, _ := json.Marshal(fn.Spec.Env)
	h.Write(env)
	return hex.EncodeToString(h.Sum(nil))[:16]
}
