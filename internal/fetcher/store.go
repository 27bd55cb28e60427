package fetcher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"

	"github.com/minifaas/minifaas/internal/packages"
)

// ref names one package: a function's artifact.
type ref struct {
	namespace, function string
	digest              digest.Digest
}

func (r ref) repository() string { return packages.Repository(r.namespace, r.function) }

// store is the node's cache of packages: it answers the tar of a cached
// package, or fetches it first, once however many ask at once.
type store struct {
	cache        packages.Cache
	index        *index
	registry     registry
	limits       packages.Limits
	fetchTimeout time.Duration
	metrics      *metrics
	log          logr.Logger
	flights      singleflight.Group

	// joined, if set (by tests), is called when a request has started or
	// joined the fetch of its package.
	joined func()
}

// evictingDir is, in the cache directory, where evicted entries go before
// they are removed.
const evictingDir = "evicting"

// newStore empties dir, the fetcher's own (entries left by a previous run
// are not indexed, and a crash may have left them half-written), and
// returns a store of at most max bytes in it.
func newStore(dir string, max int64, reg registry, fetchTimeout time.Duration, m *metrics, log logr.Logger) (*store, error) {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	for _, e := range old {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return nil, fmt.Errorf("cache: empty %s: %w", dir, err)
		}
	}
	trash := filepath.Join(dir, evictingDir)
	if err := os.Mkdir(trash, 0o700); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &store{
		cache: packages.Cache{Dir: dir}, index: newIndex(trash, max), registry: reg,
		fetchTimeout: fetchTimeout, metrics: m, log: log,
	}, nil
}

// open returns the tar of r's package and whether it was cached.
func (s *store) open(ctx context.Context, r ref) (*os.File, bool, error) {
	if f, ok, err := s.index.open(r.digest); ok || err != nil {
		return f, ok, err
	}
	// Twice at most: a cache smaller than the packages filled at once may
	// evict this one between its fill and its open.
	for range 2 {
		if err := s.fill(ctx, r); err != nil {
			return nil, false, err
		}
		if f, ok, err := s.index.open(r.digest); ok || err != nil {
			return f, false, err
		}
	}
	return nil, false, fmt.Errorf("package %s was evicted as soon as fetched: the cache is too small for the packages asked for at once", r.digest)
}

// fill fetches r's package into the cache, or waits for the fetch of it
// under way. The fetch is not the request's: it goes on, bounded by
// fetchTimeout, if the request that started it goes away.
func (s *store) fill(ctx context.Context, r ref) error {
	ch := s.flights.DoChan(r.repository()+"@"+r.digest.String(), func() (any, error) {
		return nil, s.fetch(context.WithoutCancel(ctx), r)
	})
	if s.joined != nil {
		s.joined()
	}
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *store) fetch(ctx context.Context, r ref) error {
	ctx, cancel := context.WithTimeout(ctx, s.fetchTimeout)
	defer cancel()
	start := time.Now()
	defer func() { s.metrics.fetchSeconds.Observe(time.Since(start).Seconds()) }()
	e, err := s.registry.endpoint(ctx)
	if err != nil {
		return err
	}
	repo, err := e.repository(r.repository())
	if err != nil {
		return err
	}
	root, err := s.cache.Fill(ctx, r.digest, func(ctx context.Context, dir string) error {
		return writeEntry(ctx, repo, r.digest, dir, s.limits)
	})
	if err != nil {
		if unreachable(err) && !errors.Is(err, context.DeadlineExceeded) {
			s.registry.forget(e)
		}
		return fmt.Errorf("fetch %s@%s: %w", r.repository(), r.digest, err)
	}
	entry := filepath.Dir(root)
	info, err := os.Stat(filepath.Join(entry, tarFile))
	if err != nil {
		return fmt.Errorf("cached package %s: %w", r.digest, err)
	}
	evicted, total := s.index.add(r.digest, entry, info.Size())
	s.metrics.cacheBytes.Set(float64(total))
	for _, dir := range evicted {
		s.metrics.evictions.Inc()
		if err := os.RemoveAll(dir); err != nil {
			s.log.Error(err, "Could not remove an evicted package", "path", dir)
		}
	}
	s.log.Info("Fetched package", "namespace", r.namespace, "function", r.function, "digest", r.digest,
		"bytes", info.Size(), "duration", time.Since(start), "evicted", len(evicted))
	return nil
}
