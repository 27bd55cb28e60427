package runnerapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// BytecodeMember opens the bytecode members at the end of a Specialization
// body: a runner finds them by its last occurrence (the members before it
// cannot end with it: env names and values are JSON strings, whose quotes
// are escaped, and no other member comes after them).
const BytecodeMember = `,"bytecode":"`

// bytecodeTagMember separates the bytecode from its tag.
const bytecodeTagMember = `","bytecodeTag":"`

// AttachBytecode returns the parts of body, a Specialization without
// bytecode as json.Marshal writes it, with bytecode and tag as its last
// members: the same bytes as json.Marshal of the Specialization with
// Bytecode and BytecodeTag set. The parts are sent in order (io.MultiReader),
// so the code in body is not copied. tag must need no JSON escaping
// (ValidTag) and body must end with '}'.
func AttachBytecode(body []byte, tag string, bytecodeBase64 []byte) [][]byte {
	return [][]byte{
		body[:len(body)-1],
		[]byte(BytecodeMember), bytecodeBase64,
		[]byte(bytecodeTagMember + tag + `"}`),
	}
}

// SpecHash is the SHA-256 (hex) of a Specialization body without its
// bytecode members, which AttachBytecode wrote last; hasBytecode says
// whether body has them. It is what a runner keeps and answers in a 409.
func SpecHash(body []byte, hasBytecode bool) string {
	h := sha256.New()
	if i := bytes.LastIndex(body, []byte(BytecodeMember)); hasBytecode && i >= 0 {
		h.Write(body[:i])
		h.Write([]byte("}"))
	} else {
		h.Write(body)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// MaxTagLength bounds a bytecode tag.
const MaxTagLength = 64

// ValidTag tells whether tag is a bytecode tag the gateway may pass on:
// short, and only letters, digits, '.', '_' and '-', so it needs no JSON
// escaping and cannot add members to a specialization.
func ValidTag(tag string) bool {
	if tag == "" || len(tag) > MaxTagLength {
		return false
	}
	for _, c := range []byte(tag) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// EncodeBytecode is bytecode as a Specialization body carries it: standard
// base64, which needs no JSON escaping.
func EncodeBytecode(bytecode []byte) []byte {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(bytecode)))
	base64.StdEncoding.Encode(out, bytecode)
	return out
}
