package packagebuild

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Files of a credentials directory: the keys of the Secret faas-packages
// mounted as files.
const (
	UsernameFile = "username"
	PasswordFile = "password"
)

// Credentials are the registry's basic-auth account.
type Credentials struct {
	Username, Password string
}

// LoadCredentials reads the username and password files of dir. A
// trailing newline (a Secret made with kubectl --from-file from an edited
// file) is not part of either.
func LoadCredentials(dir string) (Credentials, error) {
	read := func(name string) (string, error) {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("registry credentials: %w", err)
		}
		v := strings.TrimRight(string(raw), "\r\n")
		if v == "" {
			return "", fmt.Errorf("registry credentials: %s is empty", filepath.Join(dir, name))
		}
		return v, nil
	}
	user, uerr := read(UsernameFile)
	pass, perr := read(PasswordFile)
	if err := errors.Join(uerr, perr); err != nil {
		return Credentials{}, err
	}
	return Credentials{Username: user, Password: pass}, nil
}
