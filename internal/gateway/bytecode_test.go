package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// compilingPod plays a Python pool pod that compiles: its answers carry
// tag, and it records the compile requests and specializations it gets.
type compilingPod struct {
	tag         string
	mu          sync.Mutex
	compiles    int
	specialized [][]byte
}

func startCompilingPod(t *testing.T, ip string, p ports, tag string) *compilingPod {
	pod := &compilingPod{tag: tag}
	listenOn(t, ip, p.call, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hi") }))
	listenOn(t, ip, p.admin, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		pod.mu.Lock()
		defer pod.mu.Unlock()
		switch r.URL.Path {
		case runnerapi.CompilePath:
			pod.compiles++
			_ = json.NewEncoder(w).Encode(runnerapi.CompileResult{Tag: pod.tag, Bytecode: []byte("bytecode of " + ip)})
		case runnerapi.SpecializePath:
			pod.specialized = append(pod.specialized, body)
			_, _ = io.WriteString(w, `{"specializeMicros": 5}`)
		}
	}))
	return pod
}

func (p *compilingPod) counts() (compiles int, specialized [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.compiles, append([][]byte(nil), p.specialized...)
}

// A new Function's code is compiled by an idle pool pod of its own
// namespace, never another's, and the claim that serves its first call
// carries that bytecode, with the spec hash unchanged.
func TestAPoolClaimCarriesTheCodeCompiledAheadOfTime(t *testing.T) {
	p := freePorts(t)
	cfg := testConfig(p)
	cfg.BytecodeCacheBytes = 1 << 20
	gw := newTestGateway(t, cfg)
	gw.SetPoolKey([]byte("key"))
	pods := []*compilingPod{startCompilingPod(t, "127.0.0.41", p, "tag-a"), startCompilingPod(t, "127.0.0.42", p, "tag-a")}
	hostile := startCompilingPod(t, "127.0.0.43", p, "tag-evil")
	gw.OnRuntimePool(&faasv1.RuntimePool{
		ObjectMeta: metav1.ObjectMeta{Namespace: "hostile", Name: "pool"},
		Spec:       faasv1.RuntimePoolSpec{Runtime: faasv1.RuntimePython},
		Status:     faasv1.RuntimePoolStatus{IdlePods: []faasv1.PoolPod{idlePod("evil", "127.0.0.43")}},
	}, false)
	setPool(gw, idlePod("pool-a", "127.0.0.41"), idlePod("pool-b", "127.0.0.42"))

	gw.OnFunction(testFunction("bc"))
	eventually(t, "bytecode cached", func() bool { n, _ := gw.bytecode.Cache().Size(); return n == 1 })
	// A status update of the same generation compiles nothing again.
	gw.OnFunction(testFunction("bc"))

	rec := do(gw.handler, http.MethodGet, "/invoke/bc", "", nil)
	if rec.Code != http.StatusOK || rec.Header().Get(httpapi.ColdStartHeader) != "pool" {
		t.Fatalf("cold call: %d %q %s", rec.Code, rec.Header().Get(httpapi.ColdStartHeader), rec.Body)
	}
	var compiles int
	var bodies [][]byte
	for _, pod := range pods {
		c, s := pod.counts()
		compiles += c
		bodies = append(bodies, s...)
	}
	if compiles != 1 || len(bodies) != 1 {
		t.Fatalf("%d compilations and %d specializations, want 1 and 1", compiles, len(bodies))
	}
	if c, s := hostile.counts(); c != 0 || len(s) != 0 {
		t.Errorf("another namespace's pool pod was asked: %d compilations, %d specializations", c, len(s))
	}
	var sent runnerapi.Specialization
	if err := json.Unmarshal(bodies[0], &sent); err != nil {
		t.Fatalf("specialization %s: %v", bodies[0], err)
	}
	if sent.BytecodeTag != "tag-a" || len(sent.Bytecode) == 0 || sent.Code != testFunction("bc").Spec.Code {
		t.Errorf("specialization carried tag %q, %d bytes of bytecode, code %q", sent.BytecodeTag, len(sent.Bytecode), sent.Code)
	}
	spec := gw.entry(key("bc"), false).info.Load().Spec
	if h := runnerapi.SpecHash(bodies[0], true); h != spec.Hash {
		t.Errorf("spec hash of the body %s, want %s (bytecode must not change it)", h, spec.Hash)
	}
}
