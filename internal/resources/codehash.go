package resources

import (
	"crypto/sha256"
	"encoding/hex"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// CodeHash identifies what the runner loads: runtime, handler and code.
// It changes exactly when the pods must be replaced to serve new code.
func CodeHash(fn *faasv1.Function) string {
	h := sha256.New()
	for _, part := range []string{string(fn.Spec.Runtime), fn.Spec.Handler, fn.Spec.Code} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
