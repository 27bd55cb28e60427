package packagebuild

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// maxTerminationBytes is what the kubelet keeps of a termination message.
const maxTerminationBytes = 4096

// Report writes the outcome of a build step to the termination log at path
// (nothing if path is empty) and returns err: on failure a one-line reason,
// on success res as one JSON line (nothing if res is nil).
func Report(path string, res *Result, err error) error {
	if path == "" {
		return err
	}
	var msg []byte
	switch {
	case err != nil:
		msg = []byte(OneLine(err.Error(), maxTerminationBytes))
	case res != nil:
		raw, merr := json.Marshal(res)
		if merr != nil {
			return fmt.Errorf("encode result: %w", merr)
		}
		msg = append(raw, '\n')
	default:
		return nil
	}
	if werr := os.WriteFile(path, msg, 0o644); werr != nil {
		if err != nil {
			return fmt.Errorf("%w (and writing the termination log: %w)", err, werr)
		}
		return fmt.Errorf("write termination log: %w", werr)
	}
	return err
}

// OneLine joins the lines of s with "; " and keeps at most n bytes of it,
// without splitting a UTF-8 sequence.
func OneLine(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ; ")), " ")
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && cut < len(s) && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + ellipsis
}
