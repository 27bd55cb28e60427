package packages

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// MinTicketKeyBytes is the shortest key Ticket accepts.
const MinTicketKeyBytes = 32

// ticketDomain separates these MACs from any other use of the key.
const ticketDomain = "minifaas-package-ticket/v1"

// Ticket is the capability to fetch one artifact of one repository from the
// node-local fetcher: an HMAC-SHA256, under a key only the platform holds,
// of the repository and the digest. Whoever holds a ticket may fetch that
// artifact and nothing else, so a runner can be given its own package's
// ticket without being able to make the fetcher pull anything else.
func Ticket(key []byte, repository string, d digest.Digest) (string, error) {
	if len(key) < MinTicketKeyBytes {
		return "", fmt.Errorf("ticket key of %d bytes, fewer than %d", len(key), MinTicketKeyBytes)
	}
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("ticket for %q: %w", d, err)
	}
	return base64.RawURLEncoding.EncodeToString(ticketMAC(key, repository, d)), nil
}

// VerifyTicket reports whether ticket is Ticket(key, repository, d), in
// constant time.
func VerifyTicket(key []byte, repository string, d digest.Digest, ticket string) bool {
	if len(key) < MinTicketKeyBytes || d.Validate() != nil {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(ticket)
	if err != nil {
		return false
	}
	return hmac.Equal(got, ticketMAC(key, repository, d))
}

func ticketMAC(key []byte, repository string, d digest.Digest) []byte {
	m := hmac.New(sha256.New, key)
	// NUL cannot occur in a repository name or a digest: the fields cannot
	// be shifted into one another.
	m.Write([]byte(ticketDomain + "\x00" + repository + "\x00" + d.String()))
	return m.Sum(nil)
}
