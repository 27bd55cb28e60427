package autoscaler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

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
}

// Collect returns every replica's report; complete is false when a peer did
// not answer, and errs say which.
func (c Collector) Collect(ctx context.Context) (reports []Report, complete bool, errs []error) {
	addrs := c.Peers.PeerAddrs()
	var mu sync.Mutex
	reports = append(reports, c.Local.Report())
	var g errgroup.Group
	g.SetLimit(8)
	for _, addr := range addrs {
		g.Go(func() error {
			r, err := c.scrape(ctx, addr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			reports = append(reports, r)
			return nil
		})
	}
	_ = g.Wait()
	return reports, len(errs) == 0, errs
}

func (c Collector) scrape(ctx context.Context, addr string) (Report, error) {
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
	for _, r := range reports {
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
