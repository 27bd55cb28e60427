package fnspec

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/cli/project"
)

// FieldManager is the server-side apply field manager of the CLI.
const FieldManager = "faas"

// Build returns the apply configuration of the Function for settings s
// (whose Name is set) with inline code, in namespace. It holds only the
// fields s sets, so that with server-side apply a setting dropped from
// faas.yaml goes back to the API server's default, and fields other
// managers own (spec.replicas, set by the gateway) are left alone. It has
// no spec.package: applied over a Function that had a package, the
// package goes (see Owners for when it does not).
func Build(namespace string, s project.Settings, code string) *unstructured.Unstructured {
	return build(namespace, s, map[string]any{"code": code})
}

// BuildPackage is Build for a package: spec.package with the source
// artifact's digest and the handler's module, and no spec.code.
func BuildPackage(namespace string, s project.Settings, source, module string) *unstructured.Unstructured {
	return build(namespace, s, map[string]any{"package": map[string]any{"source": source, "module": module}})
}

func build(namespace string, s project.Settings, spec map[string]any) *unstructured.Unstructured {
	setString(spec, "runtime", s.Runtime)
	setString(spec, "handler", s.Handler)
	if len(s.Env) > 0 {
		env := make([]any, 0, len(s.Env))
		for _, name := range s.EnvNames() {
			env = append(env, map[string]any{"name": name, "value": s.Env[name]})
		}
		spec["env"] = env
	}
	setInt(spec, "minReplicas", s.Min)
	setInt(spec, "maxReplicas", s.Max)
	setInt(spec, "concurrency", s.Concurrency)
	if s.Timeout != nil {
		spec["timeoutSeconds"] = int64(*s.Timeout)
	}
	if s.Idle != nil {
		spec["idleTimeoutSeconds"] = int64(*s.Idle)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(faasv1.GroupVersion.String())
	u.SetKind("Function")
	u.SetNamespace(namespace)
	u.SetName(s.Name)
	return u
}

func setString(m map[string]any, key, v string) {
	if v != "" {
		m[key] = v
	}
}

// setInt stores v as int64, the only integer type unstructured objects hold.
func setInt(m map[string]any, key string, v *int32) {
	if v != nil {
		m[key] = int64(*v)
	}
}
