package pooltoken

import "testing"

func TestTokensArePerPodAndHashesDoNotRevealThem(t *testing.T) {
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewKey()
	a, b := Token(key, "ns", "pool-python-a"), Token(key, "ns", "pool-python-b")
	if a == b || a == Token(key, "ns2", "pool-python-a") || a == Token(other, "ns", "pool-python-a") {
		t.Error("tokens must differ per pod, namespace and key")
	}
	if a != Token(key, "ns", "pool-python-a") {
		t.Error("a token must be reproducible by whoever holds the key")
	}
	if Hash(a) == a || Hash(a) == Hash(b) || len(Hash(a)) != 64 {
		t.Errorf("hash %q of token %q", Hash(a), a)
	}
}
