package runnerapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
)

// AttachBytecode writes what json.Marshal writes, and the spec hash of the
// result is that of the body without bytecode, even when an env name is
// the bytecode member's.
func TestAttachBytecodeIsMarshalAndKeepsTheSpecHash(t *testing.T) {
	spec := Specialization{Function: "ns/f", Handler: "handle", Code: "def handle(req):\n    return \"x\"\n",
		Env: map[string]string{"A": "1", "bytecode": `","bytecode":"`}, TimeoutSeconds: 3, Concurrency: 2}
	body, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	bc := []byte{0xe3, 0, 0xff, '"', '\\'}
	spec.Bytecode, spec.BytecodeTag = bc, "a70d0d0a-cpython-311-O0"
	want, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	got := bytes.Join(AttachBytecode(body, spec.BytecodeTag, EncodeBytecode(bc)), nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("attached:\n%s\nwant:\n%s", got, want)
	}
	sum := sha256.Sum256(body)
	if h := SpecHash(got, true); h != hex.EncodeToString(sum[:]) {
		t.Errorf("spec hash with bytecode %s, want the body's %x", h, sum)
	}
	if h := SpecHash(body, false); h != hex.EncodeToString(sum[:]) {
		t.Errorf("spec hash without bytecode %s, want %x", h, sum)
	}
}

func TestValidTag(t *testing.T) {
	for tag, want := range map[string]bool{
		"a70d0d0a-cpython-311-O0": true, "": false, `x"`: false, "x,y": false, "x\\": false,
		string(bytes.Repeat([]byte("a"), MaxTagLength+1)): false, "é": false,
	} {
		if got := ValidTag(tag); got != want {
			t.Errorf("ValidTag(%q) = %v, want %v", tag, got, want)
		}
	}
}
