package pool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/minifaas/minifaas/internal/runnerapi"
)

// Errors of a claim, by what the caller should do next.
var (
	// ErrSharedClaim: the pod says it took this very specialization from
	// another replica a moment ago. Only its hand-over (the function's
	// status listing it) makes it the function's: any specialized pod can
	// echo the hash of the body it was sent.
	ErrSharedClaim = errors.New("pod already specialized with this function")
	// ErrUnloadable: the pod ran the function's code and it did not load;
	// no other pod will do better.
	ErrUnloadable = errors.New("function code failed to load")
	// ErrRefused: the pod will not take this specialization (taken by
	// another function, bad token, a body it cannot read) and took
	// nothing; try another pod.
	ErrRefused = errors.New("pool pod refused the specialization")
	// ErrFetchFailed: the pod took the specialization and could not get the
	// function's package (its node's fetcher unreachable, too slow or
	// failing: runnerapi's 503). That says nothing about the code, so
	// another pod (or the Deployment) may do better; this one is spent (it
	// exits runnerapi.FetchFailedExitCode) and must go.
	ErrFetchFailed = errors.New("pool pod could not fetch the function's package")
	// ErrUnreachable: nothing was accepted; the pod can be claimed again.
	ErrUnreachable = errors.New("pool pod unreachable")
	// ErrUnanswered: the request went out and no answer came in time; the
	// pod may have taken the specialization and will never be handed
	// over: it must go.
	ErrUnanswered = errors.New("pool pod did not answer the specialization")
)

// CompiledCode holds code compiled ahead, by Spec.CodeKey.
type CompiledCode interface {
	// Compiled returns the .pyc of key (runnerapi.SpecLengthHeader), or nil.
	Compiled(key string) []byte
}

// Claimer specializes pool pods over HTTP on their admin port.
type Claimer struct {
	// Client carries the specialization; sharing the call path's transport
	// lets a warmed connection carry it and the first call.
	Client    *http.Client
	AdminPort int
	// Compiled, when set, is sent along with inline Python code it holds,
	// so that the pod does not compile it.
	Compiled CompiledCode
}

// Specialize POSTs spec to p with token and classifies the answer. For
// ErrUnloadable and ErrFetchFailed the error's text carries the runner's
// reason. Code compiled ahead goes along when the pod can take it; a pod
// that refuses the body with it (400, 413: a runner older than
// runnerapi.SpecLengthHeader, or a body over its limit) took nothing and
// is asked once more with the source alone.
func (c Claimer) Specialize(ctx context.Context, p Pod, token string, spec *Spec) error {
	var pyc []byte
	if spec.CodeKey != "" && c.Compiled != nil {
		pyc = c.Compiled.Compiled(spec.CodeKey)
	}
	if len(spec.Body)+len(pyc) > runnerapi.DefaultMaxBodyBytes {
		pyc = nil
	}
	status, err := c.specialize(ctx, p, token, spec, pyc)
	if pyc != nil && (status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge) {
		_, err = c.specialize(ctx, p, token, spec, nil)
	}
	return err
}

// specialize sends one specialization, with pyc after it when not nil, and
// returns the pod's answer's status (0 without one) and its meaning.
func (c Claimer) specialize(ctx context.Context, p Pod, token string, spec *Spec, pyc []byte) (int, error) {
	payload := func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(spec.Body), bytes.NewReader(pyc))), nil
	}
	first, _ := payload()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(p, runnerapi.SpecializePath), first)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	// Known length and a way to send it again: the transport may retry
	// it on a kept-alive connection the pod closed before it was sent.
	req.ContentLength, req.GetBody = int64(len(spec.Body)+len(pyc)), payload
	req.Header.Set("Authorization", runnerapi.AuthorizationScheme+token)
	req.Header.Set("Content-Type", "application/json")
	if pyc != nil {
		// The JSON first, then its code compiled; the hash of the
		// specialization covers the JSON only.
		req.Header.Set(runnerapi.SpecLengthHeader, strconv.Itoa(len(spec.Body)))
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0, fmt.Errorf("%w: %w", ErrUnreachable, err)
		}
		// It may have got the specialization: do not offer it again.
		return 0, fmt.Errorf("%w: %w", ErrUnanswered, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body) // keep the connection for the call
		return resp.StatusCode, nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 8192))
	var body runnerapi.SpecializeConflict
	_ = json.Unmarshal(msg, &body)
	if body.Error == "" {
		body.Error = string(bytes.TrimSpace(msg))
	}
	switch resp.StatusCode {
	case http.StatusConflict:
		if body.SpecHash == spec.Hash {
			return resp.StatusCode, ErrSharedClaim
		}
	case http.StatusUnprocessableEntity:
		return resp.StatusCode, fmt.Errorf("%w: %s", ErrUnloadable, body.Error)
	case http.StatusServiceUnavailable:
		// Also what a runner at its admin connection limit answers, having
		// read nothing: that pod is then deleted for little, and its pool
		// replaces it. Telling the two apart would need another field.
		return resp.StatusCode, fmt.Errorf("%w: %s", ErrFetchFailed, body.Error)
	}
	if resp.StatusCode >= http.StatusInternalServerError {
		// Not a refusal the runner makes before it takes a specialization
		// (4xx): it may have taken this one.
		return resp.StatusCode, fmt.Errorf("%w: %d %s", ErrUnanswered, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return resp.StatusCode, fmt.Errorf("%w: %d %s", ErrRefused, resp.StatusCode, bytes.TrimSpace(msg))
}

// Ready asks a pod's readiness endpoint once.
func (c Claimer) Ready(ctx context.Context, ip string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(ip, strconv.Itoa(c.AdminPort))+runnerapi.ReadyPath, nil)
	if err != nil {
		return false
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (c Claimer) url(p Pod, path string) string {
	return "http://" + net.JoinHostPort(p.IP, strconv.Itoa(c.AdminPort)) + path
}
