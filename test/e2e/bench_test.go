//go:build e2e && bench

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// The measurements of `make bench`. Every number is reported next to a
// baseline measured in the same run, as a ratio; nothing here asserts a
// time, only that every call was answered.

type dist []time.Duration

func (d dist) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func (d dist) String() string {
	return fmt.Sprintf("p50 %8s  p99 %8s  max %8s  (n=%d)", round(d.pct(0.5)), round(d.pct(0.99)), round(d.pct(1)), len(d))
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func ratio(a, b time.Duration) string { return fmt.Sprintf("%.2f×", float64(a)/float64(b)) }

var benchClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

func mustOK(t *testing.T, url string) {
	t.Helper()
	resp, err := benchClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
}

// latencies makes n sequential calls on a kept-alive connection.
func latencies(t *testing.T, url string, n int) dist {
	for range 200 {
		mustOK(t, url) // warm up connections and caches
	}
	out := make(dist, 0, n)
	for range n {
		start := time.Now()
		mustOK(t, url)
		out = append(out, time.Since(start))
	}
	return out
}

// throughput runs workers calling url for d and returns calls per second.
func throughput(t *testing.T, url string, workers int, d time.Duration) float64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				mustOK(t, url)
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// startNginx runs nginx as a keep-alive reverse proxy to upstream.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Fatal("nginx is not installed: apt-get install nginx-light (make bench does)")
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := fmt.Sprintf(`worker_processes 1; daemon off; master_process off; pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s;
  upstream fn { server %[2]s; keepalive 256; }
  server {
    listen 127.0.0.1:%[3]d;
    location / { proxy_pass http://fn; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}`, dir, upstream, port)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nginx", "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	eventually(t, 10*time.Second, "nginx up", func() error { _, err := get(url + "/"); return err })
	return url
}

func TestBenchWarmCalls(t *testing.T) {
	ensurePlatform(t)
	ns := newNamespace(t, "bench-warm")
	createFunction(t, ns, "warm", helloCode, func(f *faasv1.Function) { f.Spec.Concurrency = 100 })
	kubectl(t, "scale", "fn/warm", "-n", ns, "--replicas=1")
	waitReady(t, ns, "warm", faasv1.ReasonAvailable, 60*time.Second)
	pod := readyPodIP(t, ns, map[string]string{"faas.example.com/function": "warm"})
	gwPod := readyPodIP(t, "faas-system", gatewayLabels)

	targets := []struct{ name, url string }{
		{"direct to the pod IP (baseline)", "http://" + net.JoinHostPort(pod, "8080") + "/"},
		{"through the gateway (pod IP)", "http://" + net.JoinHostPort(gwPod, "8000") + "/invoke/warm." + ns},
		{"through nginx (reverse proxy)", startNginx(t, net.JoinHostPort(pod, "8080")) + "/"},
	}
	// Rounds alternate the targets so that a change in the machine's load
	// (others share it) falls on all three alike; samples add up across
	// rounds. At 50 clients, each call's latency is taken while all run, and
	// the calls answered make the throughput.
	const rounds, seqPerRound, clients, loadPerRound = 3, 1000, 50, 2 * time.Second
	concurrent := func(url string) dist {
		var mu sync.Mutex
		var all dist
		deadline := time.Now().Add(loadPerRound)
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				var mine dist
				for time.Now().Before(deadline) {
					start := time.Now()
					mustOK(t, url)
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				all = append(all, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		return all
	}
	lat1, lat50 := make([]dist, len(targets)), make([]dist, len(targets))
	rps := make([]float64, len(targets))
	for round := range rounds {
		for i := range targets {
			i := (i + round) % len(targets)
			lat1[i] = append(lat1[i], latencies(t, targets[i].url, seqPerRound)...)
			d := concurrent(targets[i].url)
			lat50[i] = append(lat50[i], d...)
			rps[i] += float64(len(d)) / (rounds * loadPerRound.Seconds())
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nWarm calls to one runner pod (%d rounds, targets in turn: %d sequential calls, then %d clients for %s)\n", rounds, seqPerRound, clients, loadPerRound)
	for i, tg := range targets {
		fmt.Fprintf(&b, "  %-34s 1 client:   %s\n", tg.name, lat1[i])
		fmt.Fprintf(&b, "  %-34s %d clients: %s  %7.0f calls/s\n", "", clients, lat50[i], rps[i])
	}
	// overhead is what a proxy adds to the direct call's p50.
	overhead := func(lat []dist, proxy int) time.Duration { return lat[proxy].pct(.5) - lat[0].pct(.5) }
	for _, c := range []struct {
		what string
		lat  []dist
	}{{"1 client", lat1}, {fmt.Sprintf("%d clients", clients), lat50}} {
		gw, nginx := overhead(c.lat, 1), overhead(c.lat, 2)
		fmt.Fprintf(&b, "  %-10s p50 direct %s, gateway %s (+%s), nginx %s (+%s); p99 gateway %s, nginx %s\n", c.what,
			round(c.lat[0].pct(.5)), round(c.lat[1].pct(.5)), round(gw), round(c.lat[2].pct(.5)), round(nginx), round(c.lat[1].pct(.99)), round(c.lat[2].pct(.99)))
		r := float64(gw) / float64(max(nginx, time.Microsecond))
		goal(t, "Gateway overhead vs nginx's, "+c.what, fmt.Sprintf("%.2f× (+%s vs +%s)", r, round(gw), round(nginx)), "≤ 1.3×", r <= 1.3)
	}
	fmt.Fprintf(&b, "  throughput at %d clients: gateway %.2f× nginx's, %.2f× direct\n", clients, rps[1]/rps[2], rps[1]/rps[0])
	goal(t, "Gateway throughput vs nginx", fmt.Sprintf("%s (%.0f vs %.0f calls/s)", ratioOf(rps[1], rps[2]), rps[1], rps[2]), "≥ 0.8×", rps[1] >= 0.8*rps[2])
	t.Log(b.String())
}

// scaleTo sets a Function's replicas through its scale subresource, as
// `kubectl scale` does, and for 0 waits until none of its pods is left.
func scaleTo(t *testing.T, ns, name string, n int32) {
	t.Helper()
	fn := &faasv1.Function{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	scale := &autoscalingv1.Scale{}
	if err := k8s.SubResource("scale").Get(context.Background(), fn, scale); err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = n
	if err := k8s.SubResource("scale").Update(context.Background(), fn, client.WithSubResourceBody(scale)); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		eventually(t, 60*time.Second, "no pod left", func() error {
			if k := len(functionPods(t, ns, name)); k > 0 {
				return fmt.Errorf("%d pods", k)
			}
			return nil
		})
	}
}

func TestBenchColdStart(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "bench-cold")
	const runs = 20
	long := func(f *faasv1.Function) { f.Spec.IdleTimeoutSeconds = 3600 }
	// cold goes back to zero by itself a second after each call: the
	// platform's autoscaler follows recent demand, so scaling it down by
	// hand right after a call would be undone.
	createFunction(t, ns, "cold", helloCode, func(f *faasv1.Function) { f.Spec.IdleTimeoutSeconds = 1 })
	createFunction(t, ns, "bare", helloCode, long)

	// Function applied → its Deployment exists.
	var applied dist
	for i := range 10 {
		name := fmt.Sprintf("apply-%d", i)
		start := time.Now()
		fn := &faasv1.Function{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: faasv1.FunctionSpec{Code: helloCode}}
		if err := k8s.Create(context.Background(), fn); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "Deployment created", func() error {
			return k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "fn-" + name + "-deploy"}, &appsv1.Deployment{})
		})
		applied = append(applied, time.Since(start))
	}

	// Baseline: a bare scale 0→1 (what `kubectl scale` does), then polling
	// the new pod's IP until it answers.
	var bare dist
	for range runs {
		scaleTo(t, ns, "bare", 0)
		start := time.Now()
		scaleTo(t, ns, "bare", 1)
		eventually(t, 60*time.Second, "bare pod answers", func() error {
			for _, p := range functionPods(t, ns, "bare") {
				if p.Status.PodIP != "" {
					if _, err := get("http://" + net.JoinHostPort(p.Status.PodIP, "8080") + "/"); err == nil {
						return nil
					}
				}
			}
			return fmt.Errorf("not yet")
		})
		bare = append(bare, time.Since(start))
	}

	// Through the gateway: the first call to the function at zero.
	var viaGateway dist
	for range runs {
		eventually(t, 60*time.Second, "cold back at zero", func() error {
			if fn := getFunction(t, ns, "cold"); ptr.Deref(fn.Spec.Replicas, 0) != 0 || len(functionPods(t, ns, "cold")) > 0 {
				return fmt.Errorf("replicas %d, %d pods", ptr.Deref(fn.Spec.Replicas, 0), len(functionPods(t, ns, "cold")))
			}
			return nil
		})
		time.Sleep(200 * time.Millisecond) // let the gateway's informer see zero
		start := time.Now()
		mustOK(t, gw+"/invoke/cold."+ns)
		viaGateway = append(viaGateway, time.Since(start))
	}
	t.Logf("\nCold start, Deployment path (%d runs each)\n  Function applied → Deployment created  %s\n  bare scale 0→1 → first answer on pod IP %s\n  first call through the gateway at zero   %s\n  gateway vs bare: p50 %s  p99 %s",
		runs, applied, bare, viaGateway, ratio(viaGateway.pct(.5), bare.pct(.5)), ratio(viaGateway.pct(.99), bare.pct(.99)))
}

func TestBenchBurstAtZero(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "bench-burst")
	createFunction(t, ns, "burst", helloCode)
	replicas := watchReplicas(t, ns, "fn-burst-deploy")
	const n = 1000
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var mu sync.Mutex
	var lat dist
	errs := 0
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-gate
			start := time.Now()
			resp, err := c.Get(gw + "/invoke/burst." + ns)
			ok := err == nil && resp.StatusCode == 200
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				errs++
				return
			}
			lat = append(lat, time.Since(start))
		})
	}
	close(gate)
	wg.Wait()
	time.Sleep(time.Second)
	transitions := replicas()
	t.Logf("\nBurst: %d concurrent calls to a function at zero\n  errors %d, Deployment replicas went %v, latency %s", n, errs, transitions, lat)
	if errs > 0 || len(transitions) < 2 || transitions[0] != 0 || transitions[1] != 1 || slices.Contains(transitions[2:], 0) {
		t.Errorf("want every call answered and one 0→1 transition (the autoscaler may add pods after it)")
	}
}

// codeOfSize returns a valid handler padded with small functions to about n bytes.
func codeOfSize(n int) string {
	var b strings.Builder
	b.WriteString("def handle(req):\n    return 'hello from runner'\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "\ndef helper_%d(x):\n    return x * %d + len(str(x))\n", i, i)
	}
	return b.String()
}

// coldStartsViaGateway calls each function once, at zero, through one
// gateway pod on a kept-alive connection; before each call it waits for
// ready() (a pool pod to claim, or nothing).
func coldStartsViaGateway(t *testing.T, gwPod, ns string, names []string, ready func()) dist {
	t.Helper()
	base := "http://" + net.JoinHostPort(gwPod, "8000")
	mustOK(t, "http://"+net.JoinHostPort(gwPod, "9090")+"/healthz")
	var out dist
	for _, name := range names {
		ready()
		start := time.Now()
		mustOK(t, base+"/invoke/"+name+"."+ns)
		out = append(out, time.Since(start))
	}
	return out
}

// specializeMicros reads what the specialized pod of each function reports;
// functions the gateway served from their Deployment instead (the pool was
// momentarily empty in its view) are counted, not measured.
func specializeMicros(t *testing.T, ns string, names []string) (d dist, fallbacks, compiled int) {
	t.Helper()
	for _, name := range names {
		var us int64
		eventually(t, 10*time.Second, "the pod of "+name, func() error {
			pods := functionPods(t, ns, name)
			if len(pods) == 0 || pods[0].Status.PodIP == "" {
				return fmt.Errorf("no pod yet")
			}
			if pods[0].Labels[resources.PoolStateLabel] != resources.PoolSpecialized {
				us = -1
				return nil
			}
			resp, err := benchClient.Get("http://" + net.JoinHostPort(pods[0].Status.PodIP, "8081") + runnerapi.StatsPath)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var st runnerapi.Stats
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.SpecializeMicros == nil || *st.SpecializeMicros <= 0 {
				return fmt.Errorf("no specialization reported: %v", err)
			}
			us = *st.SpecializeMicros
			if st.SpecializedCompiled {
				compiled++
			}
			return nil
		})
		if us < 0 {
			fallbacks++
			continue
		}
		d = append(d, time.Duration(us)*time.Microsecond)
	}
	return d, fallbacks, compiled
}

// fullPool returns a wait, before each call, until the pool is warm again:
// the gateway itself sees all its pods claimable, so no refill from the
// previous call is still starting.
func fullPool(t *testing.T, gwPod, ns string, size int) func() {
	return func() {
		eventually(t, 60*time.Second, "a full pool", func() error {
			n, err := gatewayIdlePoolPods(gwPod, ns)
			if err != nil {
				return err
			}
			if n != size {
				return fmt.Errorf("the gateway sees %d idle pool pods, want %d", n, size)
			}
			return nil
		})
	}
}

func TestBenchPoolColdStart(t *testing.T) {
	ensurePlatform(t)
	gwPod := readyPodIP(t, "faas-system", gatewayLabels)
	poolNS := newNamespace(t, "bench-pool")
	plainNS := newNamespace(t, "bench-nopool")
	const poolSize = 3
	createPool(t, poolNS, poolSize)
	const poolRuns, deployRuns, largeRuns = 50, 20, 20
	long := func(f *faasv1.Function) { f.Spec.IdleTimeoutSeconds = 3600 }
	small, large := codeOfSize(1024), codeOfSize(100*1024)
	var poolFns, largeFns, deployFns []string
	for i := range poolRuns {
		poolFns = append(poolFns, fmt.Sprintf("f-%d", i))
		createFunction(t, poolNS, poolFns[i], small, long)
	}
	for i := range largeRuns {
		largeFns = append(largeFns, fmt.Sprintf("large-%d", i))
		createFunction(t, poolNS, largeFns[i], large, long)
	}
	for i := range deployRuns {
		deployFns = append(deployFns, fmt.Sprintf("d-%d", i))
		createFunction(t, plainNS, deployFns[i], small, long)
	}
	poolReady := fullPool(t, gwPod, poolNS, poolSize)

	viaPool := coldStartsViaGateway(t, gwPod, poolNS, poolFns, poolReady)
	viaDeployment := coldStartsViaGateway(t, gwPod, plainNS, deployFns, func() {})
	viaPoolLarge := coldStartsViaGateway(t, gwPod, poolNS, largeFns, poolReady)
	spec1k, fallback1k, compiled1k := specializeMicros(t, poolNS, poolFns)
	spec100k, fallback100k, compiled100k := specializeMicros(t, poolNS, largeFns)

	t.Logf("\nFirst call to a function at zero, through the gateway\n"+
		"  warm pool, 1 KiB code (%d functions)    %s\n"+
		"  warm pool, 100 KiB code (%d functions)  %s\n"+
		"  no pool: Deployment path (%d functions)  %s\n"+
		"  Deployment path vs pool: p50 %s  p99 %s\n"+
		"Runner-side specialization time\n"+
		"  %d B code   %s\n  %d B code %s\n"+
		"Calls served by the Deployment path because no pool pod was claimable: %d of %d, %d of %d\n"+
		"Specializations that loaded code compiled ahead (faas-compiler): %d of %d, %d of %d",
		poolRuns, viaPool, largeRuns, viaPoolLarge, deployRuns, viaDeployment,
		ratio(viaDeployment.pct(.5), viaPool.pct(.5)), ratio(viaDeployment.pct(.99), viaPool.pct(.99)),
		len(small), spec1k, len(large), spec100k, fallback1k, poolRuns, fallback100k, largeRuns,
		compiled1k, len(spec1k), compiled100k, len(spec100k))
	// The runner's own figure (specializeMicros: from the parsed request to
	// the handler in place), judged on its median.
	specGoal := func(measure string, d dist, target time.Duration) {
		goal(t, measure, fmt.Sprintf("p50 %s, p99 %s (n=%d)", round(d.pct(.5)), round(d.pct(.99)), len(d)),
			"p50 ≤ "+target.String(), len(d) > 0 && d.pct(.5) <= target)
	}
	specGoal("Specialization, 1 KiB of code (runner)", spec1k, 300*time.Microsecond)
	specGoal("Specialization, 100 KiB of code (runner)", spec100k, 10*time.Millisecond)
	goal(t, fmt.Sprintf("Pool first call at zero, %d functions", poolRuns),
		fmt.Sprintf("p99 %s (p50 %s; %d served by the Deployment path)", round(viaPool.pct(.99)), round(viaPool.pct(.5)), fallback1k),
		"p99 ≤ 15ms", viaPool.pct(.99) <= 15*time.Millisecond)
}

// TestBenchAutoscale: a 200 ms function (concurrency 10, maxReplicas 5)
// under 100 clients from zero: time from overload to 5 ready pods, steady
// throughput against the ideal 250 calls/s, p50 and p99. (No HPA baseline:
// the local cluster runs no metrics-server, so an HPA cannot act here.)
func TestBenchAutoscale(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "bench-scale")
	createFunction(t, ns, "slow", "import time\ndef handle(req):\n    time.sleep(0.2)\n    return 'ok'\n", func(f *faasv1.Function) {
		f.Spec.Concurrency, f.Spec.MaxReplicas = 10, 5
	})
	start := time.Now()
	l := startLoad(gw+"/invoke/slow."+ns, 100)
	var firstReady, allReady time.Duration
	eventually(t, 90*time.Second, "5 ready pods", func() error {
		n := getFunction(t, ns, "slow").Status.ReadyReplicas
		if n >= 1 && firstReady == 0 {
			firstReady = time.Since(start)
		}
		if n < 5 {
			return fmt.Errorf("%d ready", n)
		}
		allReady = time.Since(start)
		return nil
	})
	time.Sleep(2 * time.Second)
	window := time.Now()
	time.Sleep(10 * time.Second)
	lat, rate := l.since(window)
	l.end()
	t.Logf("\nAutoscaling: 200 ms handler, concurrency 10, maxReplicas 5, 100 clients from zero (Deployment path)\n"+
		"  overload → first ready pod %s, → 5 ready pods %s\n"+
		"  steady (10 s): %.0f calls/s = %.2f× the ideal 250; p50 %s, p99 %s (p99/p50 %.2f); %d failed calls\n",
		firstReady.Round(100*time.Millisecond), allReady.Round(100*time.Millisecond), rate, rate/250,
		percentile(lat, .5).Round(time.Millisecond), percentile(lat, .99).Round(time.Millisecond),
		float64(percentile(lat, .99))/float64(percentile(lat, .5)), len(l.failures))
}

// TestBenchRuntimesPoolColdStart: the first call at zero through a warm pool,
// Node.js next to Python in the same run (20 functions each, one gateway
// pod, a full pool before each call).
func TestBenchRuntimesPoolColdStart(t *testing.T) {
	ensurePlatform(t)
	gwPod := readyPodIP(t, "faas-system", gatewayLabels)
	const poolSize, runs = 3, 20
	long := func(f *faasv1.Function) { f.Spec.IdleTimeoutSeconds = 3600 }
	codes := map[faasv1.Runtime]string{
		faasv1.RuntimePython: "def handle(req):\n    return 'hello'\n",
		faasv1.RuntimeNodeJS: "module.exports = async (req) => 'hello'\n",
	}
	results := map[faasv1.Runtime]dist{}
	for _, rt := range []faasv1.Runtime{faasv1.RuntimePython, faasv1.RuntimeNodeJS} {
		ns := newNamespace(t, "bench-rt-"+string(rt))
		createRuntimePool(t, ns, rt, poolSize)
		var names []string
		for i := range runs {
			names = append(names, fmt.Sprintf("f-%d", i))
			createFunction(t, ns, names[i], codes[rt], long, func(f *faasv1.Function) { f.Spec.Runtime = rt })
		}
		results[rt] = coldStartsViaGateway(t, gwPod, ns, names, func() {
			eventually(t, 60*time.Second, "a full pool", func() error {
				if n, err := gatewayIdlePoolPods(gwPod, ns, rt); err != nil || n != poolSize {
					return fmt.Errorf("the gateway sees %d idle %s pool pods (%v), want %d", n, rt, err, poolSize)
				}
				return nil
			})
		})
	}
	py, node := results[faasv1.RuntimePython], results[faasv1.RuntimeNodeJS]
	t.Logf("\nFirst call at zero through a warm pool, by runtime (%d functions each)\n  python  %s\n  nodejs  %s\n  nodejs vs python: p50 %s  p99 %s",
		runs, py, node, ratio(node.pct(.5), py.pct(.5)), ratio(node.pct(.99), py.pct(.99)))
}
