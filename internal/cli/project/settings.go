package project

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// SettingsFile is the name of a folder's settings file.
const SettingsFile = "faas.yaml"

// Settings are what faas.yaml holds and what deploy's flags override. A nil
// pointer or an empty string is unset: the API server's default applies.
type Settings struct {
	// Name of the Function; default: the folder's name, or the file's
	// name without .py.
	Name string `json:"name,omitempty"`
	// Runtime of the code; default python.
	Runtime string `json:"runtime,omitempty"`
	// Handler is the function in the code that answers calls; default handle.
	Handler string `json:"handler,omitempty"`
	// File is the folder's handler file; default handler.py. It names the
	// code of an inline function.
	File string `json:"file,omitempty"`
	// Module is the module holding the handler when the folder is deployed
	// as a package, dotted ("app.main" is app/main.py); default: File's
	// module, else handler.
	Module string `json:"module,omitempty"`
	// Env is passed to the function's process.
	Env map[string]string `json:"env,omitempty"`
	// Min and Max bound the function's pods.
	Min *int32 `json:"min,omitempty"`
	Max *int32 `json:"max,omitempty"`
	// Concurrency is how many calls one pod serves at once.
	Concurrency *int32 `json:"concurrency,omitempty"`
	// Timeout bounds one call; Idle is how long an idle function stays up.
	Timeout *Seconds `json:"timeout,omitempty"`
	Idle    *Seconds `json:"idle,omitempty"`
}

// Override returns s with every field set in o replacing s's; env is
// merged key by key, then the keys in unsetEnv are removed.
func (s Settings) Override(o Settings, unsetEnv []string) Settings {
	if o.Name != "" {
		s.Name = o.Name
	}
	if o.Runtime != "" {
		s.Runtime = o.Runtime
	}
	if o.Handler != "" {
		s.Handler = o.Handler
	}
	if o.File != "" {
		s.File = o.File
	}
	if o.Module != "" {
		s.Module = o.Module
	}
	if len(o.Env) > 0 || len(unsetEnv) > 0 {
		env := make(map[string]string, len(s.Env)+len(o.Env))
		for k, v := range s.Env {
			env[k] = v
		}
		for k, v := range o.Env {
			env[k] = v
		}
		for _, k := range unsetEnv {
			delete(env, k)
		}
		s.Env = env
	}
	s.Min = pick(s.Min, o.Min)
	s.Max = pick(s.Max, o.Max)
	s.Concurrency = pick(s.Concurrency, o.Concurrency)
	s.Timeout = pick(s.Timeout, o.Timeout)
	s.Idle = pick(s.Idle, o.Idle)
	return s
}

func pick[T any](base, override *T) *T {
	if override != nil {
		return override
	}
	return base
}

// EnvNames returns the names of s.Env, sorted.
func (s Settings) EnvNames() []string {
	names := make([]string, 0, len(s.Env))
	for k := range s.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// modulePath is spec.package.module's pattern: dotted Python
	// identifiers.
	modulePath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
)

// maxModuleLength is spec.package.module's MaxLength.
const maxModuleLength = 128

// Validate checks what must hold before anything is sent: a name that can
// be a Function's, and env names. Ranges are left to the API server, whose
// message names the field.
func (s Settings) Validate() error {
	if err := ValidateName(s.Name); err != nil {
		return err
	}
	for name := range s.Env {
		if name == "" || strings.ContainsAny(name, "= \t\n") {
			return fmt.Errorf("%w: env name %q is not valid", ErrInvalid, name)
		}
	}
	if s.Module != "" {
		if err := ValidateModule(s.Module); err != nil {
			return err
		}
	}
	return nil
}

// ValidateModule checks a module path: dotted Python identifiers, as in
// "handler" or "app.main".
func ValidateModule(m string) error {
	if len(m) > maxModuleLength || !modulePath.MatchString(m) {
		return fmt.Errorf("%w: module %q is not a Python module path like handler or app.main", ErrInvalid, m)
	}
	return nil
}

// ValidateName checks that name can name a Function: a DNS label of at
// most faasv1.MaxNameLength characters.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the function has no name: set name in %s or pass --name", ErrInvalid, SettingsFile)
	case len(name) > faasv1.MaxNameLength:
		return fmt.Errorf("%w: function name %q is longer than %d characters", ErrInvalid, name, faasv1.MaxNameLength)
	case !dnsLabel.MatchString(name):
		return fmt.Errorf("%w: function name %q must consist of lower-case letters, digits and '-', and start and end with a letter or digit", ErrInvalid, name)
	}
	return nil
}

// DefaultName derives a function name from a folder or file name:
// lower-cased, with '_', '.' and spaces turned into '-'.
func DefaultName(base string) string {
	base = strings.TrimSuffix(base, ".py")
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		case r == '_' || r == '.' || r == ' ':
			return '-'
		}
		return r
	}, base)
	return strings.Trim(name, "-")
}
