package pool

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/bytecode"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// Bytecode is a function's code compiled ahead of time, as a
// specialization carries it.
type Bytecode struct {
	Tag string
	// Base64 is the bytecode in standard base64: it needs no JSON escaping.
	Base64 []byte
}

// Compile asks an idle pool pod to compile code, which runs none of it, and
// returns its answer checked: a tag that needs no escaping and bytecode
// re-encoded here, so that nothing a pod answers can add members to a
// specialization body. maxBytes bounds the answer.
func (c Claimer) Compile(ctx context.Context, p Pod, token, code string, maxBytes int64) (Bytecode, error) {
	body, err := json.Marshal(runnerapi.CompileRequest{Code: code})
	if err != nil {
		return Bytecode{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(p, runnerapi.CompilePath), bytes.NewReader(body))
	if err != nil {
		return Bytecode{}, err
	}
	req.Header.Set("Authorization", runnerapi.AuthorizationScheme+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Client.Do(req)
	if err != nil {
		return Bytecode{}, fmt.Errorf("compile on pool pod %s: %w", p.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 8192))
		return Bytecode{}, bytecode.ErrUnsupported
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 8192))
		return Bytecode{}, fmt.Errorf("compile on pool pod %s: %d %s", p.Name, resp.StatusCode, bytes.TrimSpace(msg))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return Bytecode{}, fmt.Errorf("compile on pool pod %s: %w", p.Name, err)
	}
	if int64(len(raw)) > maxBytes {
		return Bytecode{}, fmt.Errorf("compile on pool pod %s: answer above %d bytes", p.Name, maxBytes)
	}
	var result runnerapi.CompileResult // Bytecode: base64, decoded strictly
	if err := json.Unmarshal(raw, &result); err != nil {
		return Bytecode{}, fmt.Errorf("compile on pool pod %s: %w", p.Name, err)
	}
	if !runnerapi.ValidTag(result.Tag) || len(result.Bytecode) == 0 {
		return Bytecode{}, fmt.Errorf("compile on pool pod %s: no valid tag and bytecode in the answer", p.Name)
	}
	return Bytecode{Tag: result.Tag, Base64: runnerapi.EncodeBytecode(result.Bytecode)}, nil
}

// Compiler compiles code on idle pool pods without taking them: the pod
// stays claimable, and a claim that reaches it meanwhile waits for the
// compilation to end (the runner serializes the two).
type Compiler struct {
	View    *View
	Claimer Claimer
	// Token is a pod's specialization token; false while the pool key is
	// not known.
	Token func(namespace, pod string) (string, bool)
	// MaxBytes bounds a pod's answer.
	MaxBytes int64
}

var _ bytecode.Compiler = Compiler{}

// Compile compiles code on an idle pod of namespace and runtime: the one a
// claim for fn would take last (rendezvous order, as View.Take), so that
// the function's own first call, which may come at once, seldom waits for
// it. Pods of other namespaces are never asked.
func (c Compiler) Compile(ctx context.Context, namespace, runtime, fn, code string) (bytecode.Entry, error) {
	var pick Pod
	var pickScore uint64
	found := false
	for _, p := range c.View.IdlePods() {
		if p.Namespace != namespace || p.Runtime != faasv1.Runtime(runtime) {
			continue
		}
		if score := rank(fn, p.Name); !found || score < pickScore {
			pick, pickScore, found = p, score, true
		}
	}
	if !found {
		return bytecode.Entry{}, bytecode.ErrNoPod
	}
	token, ok := c.Token(pick.Namespace, pick.Name)
	if !ok {
		return bytecode.Entry{}, bytecode.ErrNoPod
	}
	bc, err := c.Claimer.Compile(ctx, pick, token, code, c.MaxBytes)
	if err != nil {
		return bytecode.Entry{}, err
	}
	return bytecode.Entry{Tag: bc.Tag, Base64: bc.Base64}, nil
}

// rank is a pod's rendezvous score for a function, as View.Take ranks.
func rank(fn, pod string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(fn + "\x00" + pod))
	return h.Sum64()
}
