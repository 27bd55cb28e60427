package packages

import (
	"bytes"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestTicketBindsRepositoryAndDigest(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	d := digest.FromString("a")
	tk, err := Ticket(key, "faas/ns/fn", d)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		key    []byte
		repo   string
		d      digest.Digest
		ticket string
		want   bool
	}{
		{"same", key, "faas/ns/fn", d, tk, true},
		{"other repository", key, "faas/ns/fn2", d, tk, false},
		{"shifted fields", key, "faas/ns/f", d, tk, false},
		{"other digest", key, "faas/ns/fn", digest.FromString("b"), tk, false},
		{"other key", bytes.Repeat([]byte{8}, 32), "faas/ns/fn", d, tk, false},
		{"short key", key[:16], "faas/ns/fn", d, tk, false},
		{"empty ticket", key, "faas/ns/fn", d, "", false},
		{"not base64", key, "faas/ns/fn", d, "!!", false},
		{"truncated", key, "faas/ns/fn", d, tk[:len(tk)-2], false},
		{"invalid digest", key, "faas/ns/fn", digest.Digest("sha256:zz"), tk, false},
	}
	for _, c := range cases {
		if got := VerifyTicket(c.key, c.repo, c.d, c.ticket); got != c.want {
			t.Errorf("%s: VerifyTicket = %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := Ticket(key[:31], "faas/ns/fn", d); err == nil {
		t.Error("Ticket accepted a 31-byte key")
	}
}
