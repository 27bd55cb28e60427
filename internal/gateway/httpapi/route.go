package httpapi

import (
	"fmt"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// InvokePrefix is the path prefix of every function call.
const InvokePrefix = "/invoke/"

// dnsLabel tells whether s is a DNS label (RFC 1123): 1 to 63 of a-z, 0-9
// and '-', starting and ending with a letter or digit. A loop, not a
// regexp: it runs on every call (about 1% of the handler chain's CPU time
// as a regexp).
func dnsLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// invokeTarget is what an /invoke/ path names.
type invokeTarget struct {
	fn types.NamespacedName
	// path and rawPath are what the function sees: the rest of the URL
	// path after the function's name, "/" when there is none.
	path, rawPath string
}

// parseInvokePath splits /invoke/<name>[.<namespace>][/<rest>] (escaped
// form) into the function and the path it is called with. Names are DNS
// labels; anything else, an escaped name, or a dot segment in the rest, is
// ErrBadPath.
func parseInvokePath(escaped, defaultNamespace string) (invokeTarget, error) {
	if !strings.HasPrefix(escaped, InvokePrefix) {
		return invokeTarget{}, fmt.Errorf("%w: calls go to %s<name>", ErrBadPath, InvokePrefix)
	}
	ref, rest, _ := strings.Cut(strings.TrimPrefix(escaped, InvokePrefix), "/")
	name, namespace, hasNS := strings.Cut(ref, ".")
	if !hasNS {
		namespace = defaultNamespace
	}
	if !dnsLabel(name) || !dnsLabel(namespace) {
		return invokeTarget{}, fmt.Errorf("%w: %q is not a function name (<name> or <name>.<namespace>, lower-case DNS labels)", ErrBadPath, ref)
	}
	rawPath := "/" + rest
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return invokeTarget{}, fmt.Errorf("%w: %v", ErrBadPath, err)
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return invokeTarget{}, fmt.Errorf("%w: dot segments are not allowed in %q", ErrBadPath, path)
		}
	}
	return invokeTarget{fn: types.NamespacedName{Namespace: namespace, Name: name}, path: path, rawPath: rawPath}, nil
}
