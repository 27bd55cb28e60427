package autoscaler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// LocalLoad is this replica's own load.
type LocalLoad interface {
	Report() Report
}

// Peers lists the admin addresses (host:port) of the other gateway
// replicas, including terminating ones that still hold calls.
type Peers interface {
	PeerAddrs() []string
}

// Collector gathers every replica's Report.
type Collector struct {
	Local  LocalLoad
	Peers  Peers
	Client *http.Client
	// GoneAfter is how long a peer may fail to answer before it counts as
	// gone (its node died and its pod lingers as terminating): its demand
	// is then none rather than unknown, so it cannot freeze scale-downs
	// for ever. Zero never gives up on a peer.
	GoneAfter time.Duration
	Now       func() time.Time

	mu sync.Mutex
	// failingSince is when each failing peer first failed; guarded by mu.
	failingSince map[string]time.Time
}

// Collect returns every replica's report; complete is false when a peer
// that is not yet gone did not answer, and errs say which.
func (c *Collector) Collect(ctx context.Context) (reports []Report, complete bool, errs []error) {
	addrs := c.Peers.PeerAddrs()
	var mu sync.Mutex
	reports = append(reports, c.Local.Report())
	complete = true
	var g errgroup.Group
	g.SetLimit(8)
	for _, addr := range addrs {
		g.Go(func() error {
			r, err := c.scrape(ctx, addr)
			gone := c.record(addr, err)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				if !gone {
					complete = false
				}
				return nil
			}
			reports = append(reports, r)
			return nil
		})
	}
	_ = g.Wait()
	return reports, complete, errs
}

// record notes a peer's answer and tells whether a failing one is gone.
func (c *Collector) record(addr string, err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failingSince == nil {
		c.failingSince = map[string]time.Time{}
	}
	if err == nil {
		delete(c.failingSince, addr)
		return false
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	since, ok := c.failingSince[addr]
	if !ok {
		c.failingSince[addr] = now
		since = now
	}
	return c.GoneAfter > 0 && now.Sub(since) >= c.GoneAfter
}

func (c *Collector) scrape(ctx context.Context, addr string) (Report, error) {
	var r Report
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+LoadPath, nil)
	if err != nil {
		return r, fmt.Errorf("load of replica %s: %w", addr, err)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return r, fmt.Errorf("load of replica %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return r, fmt.Errorf("load of replica %s: answered %d", addr, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&r); err != nil {
		return r, fmt.Errorf("load of replica %s: decode: %w", addr, err)
	}
	return r, nil
}

// merged is the demand of one function over every replica.
type merged struct {
	concurrency float64
	// idle is the shortest idle time reported; seen is false when no
	// replica reported the function.
	idleSeconds float64
	seen        bool
}

func merge(reports []Report) map[string]merged {
	out := map[string]merged{}
	seen := map[string]bool{}
	for _, r := range reports {
		// A replica listed twice (two slices, two address families) counts once.
		if r.Replica != "" {
			if seen[r.Replica] {
				continue
			}
			seen[r.Replica] = true
		}
		for fn, l := range r.Functions {
			m, ok := out[fn]
			c := float64(l.InFlight + l.Waiting)
			idle := l.IdleSeconds
			if c > 0 {
				idle = 0
			}
			if !ok || idle < m.idleSeconds {
				m.idleSeconds = idle
			}
			m.concurrency += c
			m.seen = true
			out[fn] = m
		}
	}
	return out
}
