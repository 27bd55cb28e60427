package packagebuild

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry/remote"
)

// DefaultConnectWait is the default of Step.ConnectWait.
const DefaultConnectWait = 60 * time.Second

// Step is what both registry steps of a build Job are given.
type Step struct {
	// Registry is host[:port][/path], e.g. the registry Service's
	// ClusterIP:5000; PlainHTTP talks HTTP to it.
	Registry  string
	PlainHTTP bool
	// Repository is the function's repository, faas/<namespace>/<name>.
	Repository string
	// CredentialsDir holds the username and password files.
	CredentialsDir string
	// Client bounds connections; Timeout bounds the whole step.
	Client  ClientOptions
	Timeout time.Duration
	// ConnectWait bounds waiting, before the step's work, until the
	// registry answers at all (WaitForRegistry): a new pod's network may
	// admit it a moment after it starts. 0 does not wait.
	ConnectWait time.Duration
}

// connect returns the repository, once the registry answers.
func (s Step) connect(ctx context.Context) (*remote.Repository, error) {
	if s.Registry == "" || s.Repository == "" {
		return nil, fmt.Errorf("a registry and a repository are required")
	}
	creds, err := LoadCredentials(s.CredentialsDir)
	if err != nil {
		return nil, err
	}
	client := NewClient(s.Registry, creds, s.Client)
	if err := WaitForRegistry(ctx, s.Registry, client, s.PlainHTTP, s.ConnectWait); err != nil {
		return nil, err
	}
	return NewRepository(s.Registry, s.Repository, client, s.PlainHTTP)
}

func (s Step) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.Timeout)
}

// FetchStep is faas-package build-fetch.
type FetchStep struct {
	Step
	// Digest is the source artifact's; Dest an empty or missing folder.
	Digest string
	Dest   string
}

// Run fetches the source artifact into Dest (FetchSource) and checks its
// requirements.txt, if any (ValidateRequirementsFile): a refused one is
// the error, a *RequirementsError naming the line, and pip never runs.
func (s FetchStep) Run(ctx context.Context) error {
	ctx, cancel := s.context(ctx)
	defer cancel()
	d, err := digest.Parse(s.Digest)
	if err != nil {
		return fmt.Errorf("source digest %q: %w", s.Digest, err)
	}
	if s.Dest == "" {
		return fmt.Errorf("a destination folder is required")
	}
	repo, err := s.connect(ctx)
	if err != nil {
		return err
	}
	if err := FetchSource(ctx, repo, d, s.Dest); err != nil {
		return err
	}
	return ValidateRequirementsFile(s.Dest)
}

// PushStep is faas-package build-push.
type PushStep struct {
	Step
	// Source is the source artifact's digest; Deps pip's --target
	// folder, under WorkDir (default: Deps' parent), the folder shared
	// with pip's step, whose mount point pip cannot replace; TmpDir a
	// writable folder for the deps layer's file (default os.TempDir()),
	// not shared with pip's step.
	Source  string
	WorkDir string
	Deps    string
	TmpDir  string
}

// Run opens Deps without following links (OpenDeps) and pushes the built
// artifact (PushBuilt). A deps folder that is, or lies under, a link is
// refused (ErrUnsafeDeps) before anything is pushed.
func (s PushStep) Run(ctx context.Context) (Result, error) {
	ctx, cancel := s.context(ctx)
	defer cancel()
	d, err := digest.Parse(s.Source)
	if err != nil {
		return Result{}, fmt.Errorf("source digest %q: %w", s.Source, err)
	}
	if s.Deps == "" {
		return Result{}, fmt.Errorf("a dependencies folder is required")
	}
	tmp := s.TmpDir
	if tmp == "" {
		tmp = os.TempDir()
	}
	work := s.WorkDir
	if work == "" {
		work = filepath.Dir(s.Deps)
	}
	deps, err := OpenDeps(work, s.Deps)
	if err != nil {
		return Result{}, err
	}
	if deps != nil {
		defer deps.Close()
	}
	repo, err := s.connect(ctx)
	if err != nil {
		return Result{}, err
	}
	return PushBuilt(ctx, repo, d, deps, tmp)
}
