package httpapi

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// InvokePrefix is the path prefix of every function call.
const InvokePrefix = "/invoke/"

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

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
	if !dnsLabel.MatchString(name) || len(name) > 63 || !dnsLabel.MatchString(namespace) || len(namespace) > 63 {
		return invokeTarget{}, fmt.Errorf("%w: %q is not a function name (<name> or <name>.<namespace>, lower-case DNS labels)", ErrBadPath, ref)
	}
	rawPath := "/" + rest
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return invokeTarget{}, fmt.Errorf("%w: %v", ErrBadPath, err)
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return invokeTarget{}, fmt.Errorf("%w: dot segments are not allowed in %q", ErrBadPath, path)
		}
	}
	return invokeTarget{fn: types.NamespacedName{Namespace: namespace, Name: name}, path: path, rawPath: rawPath}, nil
}
