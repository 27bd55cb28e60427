package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/minifaas/minifaas/internal/runnerapi"
)

// podStats is what a runner reports at /_/stats: the calls it saw from
// every gateway replica.
type podStats struct {
	InFlight    int     `json:"inFlight"`
	IdleSeconds float64 `json:"idleSeconds"`
}

// RunIdler scales idle functions back to minReplicas until ctx is done.
// With several gateway replicas only the leader runs it, and it decides
// from the pods' own counters, which see every replica's calls.
func (g *Gateway) RunIdler(ctx context.Context) {
	ticker := time.NewTicker(g.cfg.IdleCheckInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		g.mu.RLock()
		fns := make([]*function, 0, len(g.fns))
		for _, f := range g.fns {
			if f.exists.Load() {
				fns = append(fns, f)
			}
		}
		g.mu.RUnlock()
		for _, f := range fns {
			g.scaleDownIfIdle(ctx, f)
		}
	}
}

// scaleDownIfIdle scales f to minReplicas when no call is in flight or
// waiting here, none ended within its idle timeout, and every ready pod
// says the same of the calls it saw.
func (g *Gateway) scaleDownIfIdle(ctx context.Context, f *function) {
	info := f.info.Load()
	fromPool := g.pools.specializedOf(f.key)
	if info.Desired <= info.MinReplicas && len(fromPool) == 0 {
		return
	}
	now := g.now()
	f.mu.Lock()
	busy := f.inFlight > 0 || f.waiting > 0 || f.scaling || now.Sub(f.lastActivity) < info.IdleTimeout
	ips := make([]string, 0, len(f.order))
	for _, p := range f.order {
		ips = append(ips, p.ip)
	}
	f.mu.Unlock()
	if busy {
		return
	}
	for _, ip := range ips {
		st, err := g.stats(ctx, podAddr(ip, f.port))
		if err != nil {
			g.log.V(1).Info("Not scaling down: a pod did not report its calls", "function", f.key, "pod", ip, "error", err.Error())
			return
		}
		if st.InFlight > 0 || time.Duration(st.IdleSeconds*float64(time.Second)) < info.IdleTimeout {
			return
		}
	}
	// Pool pods it was given are deleted, never returned to a pool.
	for _, p := range fromPool {
		if err := g.pods.Delete(ctx, p.namespace, p.name); err != nil {
			g.log.Error(err, "Failed to delete the pool pod of an idle function", "function", f.key, "pod", p.name)
			continue
		}
		g.metrics.scaleEvents.WithLabelValues(f.key.String(), "down").Inc()
		g.log.Info("Deleted the pool pod of an idle function", "function", f.key, "pod", p.name, "idleTimeout", info.IdleTimeout.String())
	}
	if info.Desired <= info.MinReplicas {
		return
	}
	min := info.MinReplicas
	from, changed, err := g.scaler.ScaleIf(ctx, f.key, min, func(cur int32) bool { return cur > min })
	switch {
	case err != nil:
		g.log.Error(err, "Failed to scale idle function down", "function", f.key)
	case changed:
		g.metrics.scaleEvents.WithLabelValues(f.key.String(), "down").Inc()
		g.log.Info("Scaled idle function down", "function", f.key, "from", from, "to", min, "idleTimeout", info.IdleTimeout.String())
	}
}

func (g *Gateway) stats(ctx context.Context, addr string) (podStats, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var st podStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+runnerapi.StatsPath, nil)
	if err != nil {
		return st, err
	}
	resp, err := g.probes.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("stats answered %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("decode stats: %w", err)
	}
	return st, nil
}
