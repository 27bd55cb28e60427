//go:build e2e && bench

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// baselineRunnerCommit holds the Python runner before its event-loop
// rewrite: http.server with a thread per connection and a thread pool for
// the handler. It is the "today's runner" of the runner throughput goal.
const baselineRunnerCommit = "02c1b39"

// localRunner is a Python runner process started on this host.
type localRunner struct {
	name string
	url  string
}

// startLocalRunner starts `python3 -m runner` from root (the directory
// holding the runner package) serving code, on free local ports, pinned
// to cpus when cpus is not empty, and waits until it answers a call.
func startLocalRunner(t *testing.T, name, root, codePath, cpus string) localRunner {
	t.Helper()
	port, admin := freePort(t), freePort(t)
	args := []string{"python3", "-m", "runner"}
	if cpus != "" {
		args = append([]string{"taskset", "-c", cpus}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PYTHONPATH="+root, "PYTHONDONTWRITEBYTECODE=1",
		"FAAS_CODE_PATH="+codePath, "FAAS_FUNCTION_NAME=bench", "FAAS_PORT="+strconv.Itoa(port),
		"FAAS_ADMIN_PORT="+strconv.Itoa(admin), "FAAS_HTTP_HOST=127.0.0.1",
		"FAAS_TERMINATION_LOG="+filepath.Join(t.TempDir(), "termination-log"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the %s runner: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	r := localRunner{name: name, url: "http://127.0.0.1:" + strconv.Itoa(port) + "/"}
	eventually(t, 10*time.Second, "the "+name+" runner to answer", func() error {
		resp, err := http.Get(r.url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	return r
}

// pinSelf pins every thread of this process to cpus with taskset and
// returns a function that restores the previous affinity; a no-op where
// taskset is missing.
func pinSelf(t *testing.T, cpus string) func() {
	t.Helper()
	pid := strconv.Itoa(os.Getpid())
	out, err := exec.Command("taskset", "-p", pid).Output()
	if err != nil {
		return func() {}
	}
	// "pid N's current affinity mask: 3"
	fields := strings.Fields(string(out))
	mask := fields[len(fields)-1]
	if err := exec.Command("taskset", "-a", "-p", "-c", cpus, pid).Run(); err != nil {
		return func() {}
	}
	return func() { _ = exec.Command("taskset", "-a", "-p", mask, pid).Run() }
}

// loadRunner runs clients, each on its own kept-alive connection, calling
// url for d; it returns every call's latency.
func loadRunner(t *testing.T, url string, clients int, d time.Duration) dist {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var mu sync.Mutex
	var all dist
	var failed error
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			mine := make(dist, 0, 4096)
			for time.Now().Before(deadline) {
				start := time.Now()
				resp, err := c.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if failed != nil {
		t.Fatalf("GET %s: %v", url, failed)
	}
	return all
}

// TestBenchRunnerCalls: calls/s and latency of one Python runner process
// with a trivial handler and 16 clients, this tree's runner against the
// one before the event-loop rewrite (baselineRunnerCommit), both started
// side by side on this host from the same python3 and measured in
// alternating rounds, so that the load others put on the machine falls on
// both alike. With two or more CPUs the runners share the last one and the
// load generator gets the others: a pod's runner is one process on about
// one core.
func TestBenchRunnerCalls(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on this host")
	}
	dir := t.TempDir()
	code := filepath.Join(dir, "function.py")
	if err := os.WriteFile(code, []byte("def handle(req):\n    return 'hello from runner'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	baseRoot := filepath.Join(dir, "baseline")
	if err := os.MkdirAll(baseRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := exec.Command("sh", "-c", `git -C "$1" archive "$2" runtimes/python/runner | tar -x -C "$3" --strip-components=2`,
		"sh", repoRoot, baselineRunnerCommit, baseRoot)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Skipf("the baseline runner %s is not in this checkout's history: %v: %s", baselineRunnerCommit, err, out)
	}
	runnerCPU, clientCPUs := "", ""
	if n := runtime.NumCPU(); n >= 2 {
		runnerCPU, clientCPUs = strconv.Itoa(n-1), fmt.Sprintf("0-%d", n-2)
	}
	runners := []localRunner{
		startLocalRunner(t, "old ("+baselineRunnerCommit+")", baseRoot, code, runnerCPU),
		startLocalRunner(t, "this tree", filepath.Join(repoRoot, "runtimes", "python"), code, runnerCPU),
	}
	if clientCPUs != "" {
		defer pinSelf(t, clientCPUs)()
	}

	const rounds, clients, warmUp, perRound = 5, 16, 500 * time.Millisecond, 3 * time.Second
	rps := make([][]float64, len(runners))
	lat := make([]dist, len(runners))
	for round := range rounds {
		for i := range runners {
			i := (i + round) % len(runners)
			loadRunner(t, runners[i].url, clients, warmUp)
			d := loadRunner(t, runners[i].url, clients, perRound)
			rps[i] = append(rps[i], float64(len(d))/perRound.Seconds())
			lat[i] = append(lat[i], d...)
		}
	}
	median := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nOne Python runner process, trivial handler, %d clients on kept-alive connections (%d alternating rounds of %s; runners on CPU %q, clients on %q)\n",
		clients, rounds, perRound, runnerCPU, clientCPUs)
	for i, r := range runners {
		lo, hi := slices.Min(rps[i]), slices.Max(rps[i])
		fmt.Fprintf(&b, "  %-16s %7.0f calls/s (median; %.0f–%.0f)  %s\n", r.name, median(rps[i]), lo, hi, lat[i])
	}
	t.Log(b.String())
	old, cur := median(rps[0]), median(rps[1])
	oldP99, curP99 := lat[0].pct(.99), lat[1].pct(.99)
	goal(t, "Runner calls/s per pod vs the old runner, 16 clients",
		fmt.Sprintf("%s (%.0f vs %.0f calls/s), p99 %s vs %s", ratioOf(cur, old), cur, old, round(curP99), round(oldP99)),
		"≥ 2×, p99 no worse", cur >= 2*old && curP99 <= oldP99)
}
