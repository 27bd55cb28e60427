package pool

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/gateway/bytecode"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// adminServer answers the admin port of one pod at 127.0.0.1 and records
// what it was sent.
func adminServer(t *testing.T, compileAnswer string) (Claimer, *[]string, *[][]byte) {
	t.Helper()
	var paths []string
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		paths = append(paths, r.URL.Path)
		bodies = append(bodies, b)
		if r.URL.Path == runnerapi.CompilePath {
			_, _ = io.WriteString(w, compileAnswer)
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return Claimer{Client: srv.Client(), AdminPort: p}, &paths, &bodies
}

func TestSpecializeAttachesBytecodeWithoutChangingTheSpecHash(t *testing.T) {
	c, _, bodies := adminServer(t, "")
	fn := &faasv1.Function{Spec: faasv1.FunctionSpec{Runtime: faasv1.RuntimePython, Code: "def handle(req):\n    return 1\n", Handler: "handle"}}
	fn.Namespace, fn.Name = "ns", "f"
	spec := SpecFor(fn)
	bc := &Bytecode{Tag: "a70d0d0a-cpython-311-O0", Base64: runnerapi.EncodeBytecode([]byte{0xe3, 1, 2})}
	pod := Pod{Namespace: "ns", Name: "p", IP: "127.0.0.1"}
	for _, b := range []*Bytecode{bc, nil} {
		if err := c.Specialize(context.Background(), pod, "tok", spec, b); err != nil {
			t.Fatal(err)
		}
	}
	var got runnerapi.Specialization
	if err := json.Unmarshal((*bodies)[0], &got); err != nil {
		t.Fatalf("body with bytecode is not JSON: %v\n%s", err, (*bodies)[0])
	}
	if got.Code != fn.Spec.Code || got.BytecodeTag != bc.Tag || string(got.Bytecode) != "\xe3\x01\x02" {
		t.Errorf("sent %+v", got)
	}
	if h := runnerapi.SpecHash((*bodies)[0], true); h != spec.Hash {
		t.Errorf("spec hash with bytecode %s, want %s", h, spec.Hash)
	}
	if string((*bodies)[1]) != string(spec.Body) {
		t.Errorf("without bytecode sent %s", (*bodies)[1])
	}
	// Bytecode that would make the body larger than a runner takes is left out.
	huge := &Bytecode{Tag: bc.Tag, Base64: make([]byte, runnerapi.DefaultMaxBodyBytes)}
	if err := c.Specialize(context.Background(), pod, "tok", spec, huge); err != nil {
		t.Fatal(err)
	}
	if string((*bodies)[2]) != string(spec.Body) {
		t.Errorf("an oversized body was sent")
	}
}

func TestCompileAcceptsOnlyACleanAnswer(t *testing.T) {
	pod := Pod{Namespace: "ns", Name: "p", IP: "127.0.0.1"}
	for answer, wantErr := range map[string]bool{
		`{"tag":"a70d0d0a-cpython-311-O0","bytecode":"4wAB"}`:        false,
		`{"tag":"x\",\"code\":\"evil","bytecode":"4wAB"}`:            true, // would add members
		`{"tag":"t","bytecode":"4wAB\",\"code\":\"evil"}`:            true, // not base64
		`{"tag":"t","bytecode":""}`:                                  true,
		`{"tag":"t","bytecode":"` + string(make([]byte, 300)) + `"}`: true, // too large
		`not json`: true,
	} {
		c, _, _ := adminServer(t, answer)
		bc, err := c.Compile(context.Background(), pod, "tok", "x = 1", 200)
		if (err != nil) != wantErr {
			t.Errorf("%q: err %v", answer, err)
		}
		if err == nil && (bc.Tag != "a70d0d0a-cpython-311-O0" || string(bc.Base64) != "4wAB") {
			t.Errorf("%q: got %+v", answer, bc)
		}
	}
}

func TestCompilerAsksOnlyAnIdlePodOfTheNamespaceAndRuntime(t *testing.T) {
	c, paths, bodies := adminServer(t, `{"tag":"t1","bytecode":"4wAB"}`)
	v := NewView(0)
	// Another namespace's pool and a nodejs pool share the address: they
	// must never be asked.
	v.SetIdle(types.NamespacedName{Namespace: "hostile", Name: "pool"}, faasv1.RuntimePython,
		[]faasv1.PoolPod{{Name: "h", PodIP: "127.0.0.1", Ready: true}})
	v.SetIdle(types.NamespacedName{Namespace: "ns", Name: "node"}, faasv1.RuntimeNodeJS,
		[]faasv1.PoolPod{{Name: "n", PodIP: "127.0.0.1", Ready: true}})
	var asked []string
	comp := Compiler{View: v, Claimer: c, MaxBytes: 1 << 20, Token: func(ns, pod string) (string, bool) {
		asked = append(asked, ns+"/"+pod)
		return "tok", true
	}}
	if _, err := comp.Compile(context.Background(), "ns", "python", "ns/f", "x = 1"); !errors.Is(err, bytecode.ErrNoPod) {
		t.Fatalf("no python pod in ns: %v", err)
	}
	v.SetIdle(types.NamespacedName{Namespace: "ns", Name: "pool"}, faasv1.RuntimePython,
		[]faasv1.PoolPod{{Name: "a", PodIP: "127.0.0.1", Ready: true}, {Name: "b", PodIP: "127.0.0.1", Ready: true}})
	e, err := comp.Compile(context.Background(), "ns", "python", "ns/f", "x = 1")
	if err != nil || e.Tag != "t1" {
		t.Fatalf("compile: %+v %v", e, err)
	}
	// Not taken, and not the pod a claim for the function takes first.
	if n := v.IdleCount("ns", faasv1.RuntimePython); n != 2 {
		t.Errorf("%d idle pods after compiling, want 2", n)
	}
	first, _ := v.Take("ns", faasv1.RuntimePython, "ns/f", nil)
	if len(asked) != 1 || asked[0] == "ns/"+first.Name || asked[0] == "hostile/h" {
		t.Errorf("asked %v; a claim takes %s first", asked, first.Name)
	}
	if len(*paths) != 1 || (*paths)[0] != runnerapi.CompilePath {
		t.Errorf("requests %v", *paths)
	}
	var req runnerapi.CompileRequest
	if err := json.Unmarshal((*bodies)[0], &req); err != nil || req.Code != "x = 1" {
		t.Errorf("compile request %s: %v", (*bodies)[0], err)
	}
}
