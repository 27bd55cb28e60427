package bytecode

import (
	"crypto/sha256"
	"strings"
	"testing"
)

func key(ns, code string) Key {
	return Key{Namespace: ns, Runtime: "python", Source: sha256.Sum256([]byte(code))}
}

func entry(n int) Entry { return Entry{Tag: "t", Base64: []byte(strings.Repeat("A", n))} }

func TestCacheStaysWithinItsBudgetEvictingTheLeastRecentlyUsed(t *testing.T) {
	one := entry(1000).cost(key("ns", "a"))
	c := NewCache(3 * one)
	for _, code := range []string{"a", "b", "c"} {
		if !c.Put(key("ns", code), entry(1000)) {
			t.Fatalf("put %s refused", code)
		}
	}
	c.Get(key("ns", "a")) // b is now the least recently used
	c.Put(key("ns", "d"), entry(1000))
	if _, ok := c.Get(key("ns", "b")); ok {
		t.Error("b was kept; the least recently used should go")
	}
	for _, code := range []string{"a", "c", "d"} {
		if _, ok := c.Get(key("ns", code)); !ok {
			t.Errorf("%s was evicted", code)
		}
	}
	if n, used := c.Size(); n != 3 || used != 3*one {
		t.Errorf("size %d entries, %d bytes; want 3, %d", n, used, 3*one)
	}
	// A large entry evicts as many as it needs; one above the budget is
	// not stored and evicts nothing.
	if !c.Put(key("ns", "big"), entry(2500)) {
		t.Fatal("big refused")
	}
	if n, used := c.Size(); n != 1 && used > 3*one {
		t.Errorf("size %d entries, %d bytes after the big one", n, used)
	}
	if c.Put(key("ns", "huge"), entry(int(4*one))) {
		t.Error("an entry above the budget was stored")
	}
	if _, ok := c.Get(key("ns", "big")); !ok {
		t.Error("a refused entry evicted another")
	}
	// Replacing an entry counts it once.
	c.Put(key("ns", "big"), entry(10))
	if _, used := c.Size(); used != entry(10).cost(key("ns", "big")) {
		t.Errorf("used %d after replacing", used)
	}
}

func TestCacheKeysByNamespaceRuntimeAndSource(t *testing.T) {
	c := NewCache(1 << 20)
	c.Put(key("team-a", "code"), Entry{Tag: "t", Base64: []byte("AAAA")})
	for name, k := range map[string]Key{
		"other namespace": key("team-b", "code"),
		"other runtime":   {Namespace: "team-a", Runtime: "nodejs", Source: sha256.Sum256([]byte("code"))},
		"other source":    key("team-a", "code2"),
	} {
		if _, ok := c.Get(k); ok {
			t.Errorf("%s: found team-a's entry", name)
		}
	}
	if e, ok := c.Get(key("team-a", "code")); !ok || string(e.Base64) != "AAAA" {
		t.Errorf("own entry: %v %q", ok, e.Base64)
	}
}

func TestZeroBudgetHoldsNothing(t *testing.T) {
	c := NewCache(0)
	if c.Put(key("ns", "a"), entry(1)) {
		t.Error("stored with no budget")
	}
}
