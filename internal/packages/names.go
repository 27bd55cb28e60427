package packages

import (
	"fmt"
	"path"
	"strings"
)

// entryName checks an archive entry's name and returns it without the
// trailing slash of a directory. Only canonical relative names pass: no
// leading "/", no "." or ".." component, no empty component, no NUL; so
// "a/./b", "a//b" and "a/../b" are refused even though they would stay
// inside the destination, because a name has one spelling and duplicates
// are then found by comparing strings.
func entryName(name string, isDir bool) (string, error) {
	n := name
	if isDir {
		n = strings.TrimSuffix(n, "/")
	}
	if n == "" || n == "." || strings.ContainsRune(n, 0) || strings.HasPrefix(n, "/") ||
		path.Clean(n) != n || n == ".." || strings.HasPrefix(n, "../") {
		return "", fmt.Errorf("%q: %w", name, ErrUnsafePath)
	}
	return n, nil
}

// validTitle checks a layer's title, the name of the directory it is
// unpacked into: one path component of [a-z0-9._-], not "." or "..".
func validTitle(title string) error {
	if title == "" || title == "." || title == ".." || len(title) > 64 {
		return fmt.Errorf("layer title %q: %w", title, ErrInvalidArtifact)
	}
	for _, r := range title {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("layer title %q: %w", title, ErrInvalidArtifact)
		}
	}
	return nil
}
