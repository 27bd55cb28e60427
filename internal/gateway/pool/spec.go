package pool

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// Spec is what a pool pod is specialized with for one version of a
// Function, encoded once.
type Spec struct {
	Runtime faasv1.Runtime
	// Body is the JSON POSTed to the pod; Hash is its SHA-256 (hex), as
	// the runner reports it. Any change to code, handler, env, timeout or
	// concurrency changes Hash, and retires pods specialized before.
	Body []byte
	Hash string
	// Package is true when the pod fetches a package before it answers,
	// which takes longer than loading inline code.
	Package bool
	// CodeKey is the SHA-256 (hex) of the inline Python code a compiler
	// may compile ahead (runnerapi.SpecLengthHeader); empty for a package
	// or another runtime.
	CodeKey string
	// Code is that code.
	Code string
}

// SpecFor returns how to specialize a pool pod for fn, or nil when fn must
// take the Deployment path: it asks for its own resources, a RuntimeClass,
// egress beyond the pool's, or env from Secrets or ConfigMaps that a pool
// pod cannot mount.
func SpecFor(fn *faasv1.Function) *Spec {
	s := fn.Spec
	if len(s.Resources.Limits) > 0 || len(s.Resources.Requests) > 0 || s.RuntimeClassName != nil ||
		s.Egress.AllowAPIServer || s.Egress.AllowCloudMetadata {
		return nil
	}
	env := make(map[string]string, len(s.Env))
	for _, e := range s.Env {
		if e.ValueFrom != nil {
			return nil
		}
		env[e.Name] = e.Value
	}
	spec := runnerapi.Specialization{
		Function: fn.Namespace + "/" + fn.Name, Handler: s.Handler, Code: s.Code, Env: env,
		TimeoutSeconds: s.TimeoutSeconds, Concurrency: s.Concurrency,
	}
	if s.Package != nil {
		// The runner fetches the built package from its node's fetcher
		// with the function's ticket; nothing to specialize with before
		// it is built.
		if spec.Package = resources.PackageSource(fn); spec.Package == nil {
			return nil
		}
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(body)
	out := &Spec{Runtime: s.Runtime, Body: body, Hash: hex.EncodeToString(sum[:]), Package: spec.Package != nil}
	if s.Runtime == faasv1.RuntimePython && spec.Package == nil && s.Code != "" {
		code := sha256.Sum256([]byte(s.Code))
		out.CodeKey, out.Code = hex.EncodeToString(code[:]), s.Code
	}
	return out
}
