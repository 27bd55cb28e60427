package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/types"

	"github.com/minifaas/minifaas/internal/gateway/autoscaler"
	"github.com/minifaas/minifaas/internal/gateway/backends"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// Report is this replica's load, for the autoscaler and its peers.
func (g *Gateway) Report() autoscaler.Report {
	now := g.now()
	r := autoscaler.Report{Replica: g.cfg.Identity, Functions: map[string]autoscaler.Load{}}
	for _, f := range g.functions() {
		st := f.breaker.Stats()
		l := autoscaler.Load{InFlight: st.InFlight, Waiting: st.Waiting}
		if st.InFlight == 0 && st.Waiting == 0 {
			l.IdleSeconds = now.Sub(st.LastActivity).Seconds()
		}
		r.Functions[f.name] = l
	}
	return r
}

// Scalable lists the functions for the autoscaler.
func (g *Gateway) Scalable() []autoscaler.Function {
	fns := g.functions()
	out := make([]autoscaler.Function, 0, len(fns))
	for _, f := range fns {
		info := f.info.Load()
		out = append(out, autoscaler.Function{
			Key: f.key,
			Settings: autoscaler.Settings{
				Min: info.MinReplicas, Max: info.MaxReplicas, Concurrency: info.Concurrency,
				TargetUtilization: info.TargetUtilization, ScaleDownDelay: info.ScaleDownDelay, IdleTimeout: info.IdleTimeout,
			},
			Replicas:     info.Replicas,
			SpecReplicas: info.SpecReplicas,
			PoolPods:     int32(len(g.view.SpecializedOf(f.key))),
			Ready:        int32(len(f.tracker.Ready())),
			LoadFailed:   f.loadError() != nil,
		})
	}
	return out
}

// zeroer is the autoscaler's Zeroer.
type zeroer struct{ g *Gateway }

var _ autoscaler.Zeroer = zeroer{}

// PodsIdle asks every ready pod of fn for its calls: the pods see calls of
// every gateway, even one that is not a peer.
func (z zeroer) PodsIdle(ctx context.Context, key types.NamespacedName, idle time.Duration) (bool, error) {
	f := z.g.entry(key, false)
	if f == nil {
		return true, nil
	}
	var eg errgroup.Group
	busy := make(chan string, 1)
	for _, ip := range f.tracker.Ready() {
		eg.Go(func() error {
			st, err := z.g.podStats(ctx, ip)
			if err != nil {
				return err
			}
			if st.InFlight > 0 || time.Duration(st.IdleSeconds*float64(time.Second)) < idle {
				select {
				case busy <- ip:
				default:
				}
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return false, err
	}
	select {
	case <-busy:
		return false, nil
	default:
		return true, nil
	}
}

// RemovePoolPods deletes n of the pool pods serving fn; they leave this
// replica's rotation first (others see them terminating), and drain their
// calls in flight as they stop.
func (z zeroer) RemovePoolPods(ctx context.Context, key types.NamespacedName, n int32) error {
	f := z.g.entry(key, false)
	for _, p := range z.g.view.SpecializedOf(key) {
		if n <= 0 {
			break
		}
		n--
		if f != nil {
			f.tracker.Apply(backends.Event{Kind: backends.Retired, IP: p.IP})
		}
		z.g.view.Forget(key, p.Name, z.g.now())
		if err := z.g.pods.Delete(ctx, p.Namespace, p.Name); err != nil {
			// Counted again, so the next round removes it again.
			z.g.view.Unforget(key, p.Name)
			return fmt.Errorf("remove pool pods of %s: %w", key, err)
		}
		z.g.log.Info("Deleted a pool pod of a function", "function", key, "pod", p.Name)
	}
	return nil
}

// podStats asks a runner for its calls.
func (g *Gateway) podStats(ctx context.Context, ip string) (runnerapi.Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.StatsTimeout)
	defer cancel()
	var st runnerapi.Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+podAddr(ip, g.cfg.RunnerAdminPort)+runnerapi.StatsPath, nil)
	if err != nil {
		return st, err
	}
	resp, err := g.probeClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("stats of pod %s: %w", ip, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("stats of pod %s: answered %d", ip, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("stats of pod %s: decode: %w", ip, err)
	}
	return st, nil
}
