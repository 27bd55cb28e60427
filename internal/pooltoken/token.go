package pooltoken

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

const (
	// SecretName is the Secret holding the key, in the platform's namespace.
	SecretName = "faas-pool-key"
	// SecretKey is the Secret's data key.
	SecretKey = "key"
	// keyBytes is the length of a new key.
	keyBytes = 32
)

// NewKey returns a fresh random key.
func NewKey() ([]byte, error) {
	key := make([]byte, keyBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate pool key: %w", err)
	}
	return key, nil
}

// Token is the token that specializes pod namespace/name.
func Token(key []byte, namespace, name string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(namespace + "/" + name))
	return hex.EncodeToString(mac.Sum(nil))
}

// Hash is what the pod is told: the SHA-256 of its token, in hex.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
