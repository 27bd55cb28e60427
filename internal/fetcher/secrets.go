package fetcher

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/minifaas/minifaas/internal/packages"
)

// Files of Config.CredentialsDir besides the registry's username and
// password: keys of the Secret faas-packages (internal/resources).
const (
	ticketKeyFile = "ticketKey"
	// registryFile and plainHTTPFile, both optional, name a registry
	// other than the platform's own.
	registryFile  = "registry"
	plainHTTPFile = "plainHTTP"
)

// loadTicketKey reads the key of the tickets runners present.
func loadTicketKey(dir string) ([]byte, error) {
	key, err := os.ReadFile(filepath.Join(dir, ticketKeyFile))
	if err != nil {
		return nil, fmt.Errorf("ticket key: %w", err)
	}
	if len(key) < packages.MinTicketKeyBytes {
		return nil, fmt.Errorf("ticket key %s: %d bytes, fewer than %d", filepath.Join(dir, ticketKeyFile), len(key), packages.MinTicketKeyBytes)
	}
	return key, nil
}

// registryOverride returns the registry the Secret names and whether it is
// talked to over plain HTTP, or "" when it names none.
func registryOverride(dir string) (string, bool, error) {
	read := func(name string) (string, error) {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("registry settings: %w", err)
		}
		return strings.TrimSpace(string(raw)), nil
	}
	addr, err := read(registryFile)
	if err != nil || addr == "" {
		return "", false, err
	}
	plain, err := read(plainHTTPFile)
	if err != nil {
		return "", false, err
	}
	return addr, plain == "true", nil
}
