package compiled

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/minifaas/minifaas/internal/runnerapi"
)

// ErrUncompilable: the compiler refused the source itself (it does not
// compile, or is too large); asking again will not help, and the runner
// will tell the caller why when it compiles it.
var ErrUncompilable = errors.New("source does not compile")

// ErrNoAnswer: the compiler did not answer (unreachable, or not within
// the compile's timeout); it says nothing of the source.
var ErrNoAnswer = errors.New("compiler did not answer")

// maxCompiled bounds a compiler's answer: the .pyc of the largest source
// the compiler takes is a few times its size.
const maxCompiled = 16 * runnerapi.CompileMaxBytes

// Client asks a compiler to compile a source.
type Client struct {
	HTTP *http.Client
}

// Compile POSTs source to the compiler at addr (host:port) and returns the
// .pyc it answers. An error wrapping ErrUncompilable is final for this
// source; any other may pass.
func (c Client) Compile(ctx context.Context, addr, source string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+runnerapi.CompilePath, strings.NewReader(source))
	if err != nil {
		return nil, fmt.Errorf("make compile request: %w", err)
	}
	req.Header.Set("Content-Type", "text/x-python; charset=utf-8")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: ask compiler %s: %w", ErrNoAnswer, addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCompiled+1))
	if err != nil {
		return nil, fmt.Errorf("read compiler %s's answer: %w", addr, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") == runnerapi.CompiledMediaType:
		if len(body) > maxCompiled {
			return nil, fmt.Errorf("%w: compiled code larger than %d bytes", ErrUncompilable, maxCompiled)
		}
		return body, nil
	case resp.StatusCode == http.StatusUnprocessableEntity || resp.StatusCode == http.StatusRequestEntityTooLarge:
		return nil, fmt.Errorf("%w: %s", ErrUncompilable, reason(body))
	default:
		return nil, fmt.Errorf("compiler %s answered %d: %s", addr, resp.StatusCode, reason(body))
	}
}

// reason is the error of a runnerapi.ErrorBody, else the body's start.
func reason(body []byte) string {
	var e runnerapi.ErrorBody
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return string(bytes.TrimSpace(body[:min(len(body), 256)]))
}
