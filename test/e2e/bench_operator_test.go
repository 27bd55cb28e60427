//go:build e2e && bench

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/operator"
	"github.com/minifaas/minifaas/internal/resources"
)

// benchOperatorFunctions is how many Functions TestBenchOperatorThroughput
// creates; BENCH_OPERATOR_FUNCTIONS overrides it for a quicker look.
const benchOperatorFunctions = 1000

// benchCreateWorkers is how many goroutines create objects at once, in
// both phases: enough that the client's rate limit, not the round trip,
// bounds the bare creates.
const benchCreateWorkers = 16

// TestBenchOperatorThroughput compares, in one run, how long the in-cluster
// operator takes to bring n Functions (minReplicas 0) to Ready with how long
// creating the same objects directly takes: the NetworkPolicy, ConfigMap,
// Service and Deployment (0 replicas) of each, made by the operator's own
// builders, through a client with the operator's QPS and burst. It also
// reports the reconcile rate, API requests per Function from the
// operator's metrics, and the operator's memory idle and after the load.
func TestBenchOperatorThroughput(t *testing.T) {
	ensurePlatform(t)
	n := benchOperatorFunctions
	if s := os.Getenv("BENCH_OPERATOR_FUNCTIONS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("BENCH_OPERATOR_FUNCTIONS=%q: want a positive count", s)
		}
	}
	qps, burst := operatorRateLimit(t)
	idle := operatorMemory(t)
	t.Logf("operator idle before the load: %s", idle)

	// (a) The same objects, created directly.
	bareNS := newNamespace(t, "bench-bare")
	bare := createBare(t, bareNS, n, qps, burst)
	deleteNamespaceAndWait(t, bareNS)

	// (b) n Functions, until each reports Ready for its generation.
	before := scrapeOperatorMetrics(t)
	opNS := newNamespace(t, "bench-op")
	toReady, allCreated := createFunctionsUntilReady(t, opNS, n)
	after := scrapeOperatorMetrics(t)
	loaded := operatorMemory(t)

	r := toReady.Seconds()
	t.Logf("operator throughput, %d Functions (minReplicas 0), client QPS %g burst %d:", n, qps, burst)
	t.Logf("  bare creates of %d objects:      %8s  (%.0f objects/s)", 4*n, bare.Round(10*time.Millisecond), float64(4*n)/bare.Seconds())
	t.Logf("  Functions created:               %8s", allCreated.Round(10*time.Millisecond))
	t.Logf("  all Functions Ready:             %8s  (%.0f Functions/s)  %s of bare", toReady.Round(10*time.Millisecond), float64(n)/r, ratio(toReady, bare))
	if before.ok && after.ok {
		rec := after.reconciles - before.reconciles
		req := after.requests - before.requests
		t.Logf("  reconciles of Functions:         %8.0f  (%.0f/s, %.2f per Function; %.0f errors)", rec, rec/r, rec/float64(n), after.reconcileErrors-before.reconcileErrors)
		t.Logf("  API requests of the operator:    %8.0f  (%.0f/s, %.2f per Function)", req, req/r, req/float64(n))
	} else {
		t.Logf("  reconcile rate: the operator serves no metrics (--metrics-bind-address); Ready rate only")
	}
	t.Logf("operator memory after the load: %s", loaded)
	goal(t, fmt.Sprintf("%d Functions to Ready vs bare creates", n),
		fmt.Sprintf("%s vs %s = %s", toReady.Round(100*time.Millisecond), bare.Round(100*time.Millisecond), ratio(toReady, bare)),
		"≤ 1.2×", toReady.Seconds() <= 1.2*bare.Seconds())

	// Idle with n Functions: nothing changes for a while, the Go runtime
	// has collected and returned what the load needed.
	time.Sleep(30 * time.Second)
	idleLoaded := operatorMemory(t)
	t.Logf("operator idle with %d Functions, 30 s after: %s", n, idleLoaded)
	// Reconciles after Ready are the operator's answers to its own writes:
	// they do not delay this run's Ready, they cost requests.
	if quiet := scrapeOperatorMetrics(t); before.ok && quiet.ok {
		rec, req := quiet.reconciles-before.reconciles, quiet.requests-before.requests
		t.Logf("until quiet: %.0f reconciles (%.2f per Function), %.0f API requests (%.2f per Function)",
			rec, rec/float64(n), req, req/float64(n))
	}
	// The idle-operator goal row is bench_footprint_test.go's; these
	// figures add the operator's memory with n Functions.

	// Deleting n Functions and their objects takes a while: wait for it,
	// so later benchmarks do not run beside the garbage collector.
	deleteNamespaceAndWait(t, opNS)
}

// operatorRateLimit returns the QPS and burst the in-cluster operator runs
// with: its flags, else their defaults.
func operatorRateLimit(t *testing.T) (qps float32, burst int) {
	t.Helper()
	qps, burst = operator.DefaultQPS, operator.DefaultBurst
	out := kubectl(t, "get", "deployment/faas-operator", "-n", "faas-system", "-o", "jsonpath={.spec.template.spec.containers[0].args}")
	for _, a := range strings.Split(strings.Trim(out, "[]"), ",") {
		flag, value, _ := strings.Cut(strings.Trim(a, `"`), "=")
		switch flag {
		case "--kube-api-qps":
			f, err := strconv.ParseFloat(value, 32)
			if err != nil {
				t.Fatalf("operator flag %s: %v", a, err)
			}
			qps = float32(f)
		case "--kube-api-burst":
			b, err := strconv.Atoi(value)
			if err != nil {
				t.Fatalf("operator flag %s: %v", a, err)
			}
			burst = b
		}
	}
	return qps, burst
}

// benchFunction is the i-th Function of a throughput run.
func benchFunction(ns string, i int) *faasv1.Function {
	return &faasv1.Function{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("f%04d", i)},
		Spec:       faasv1.FunctionSpec{Code: helloCode, MaxReplicas: 3},
	}
}

// createBare creates the objects the operator makes for n Functions,
// without the Functions, through a client limited to qps and burst, and
// returns how long until all exist.
func createBare(t *testing.T, ns string, n int, qps float32, burst int) time.Duration {
	t.Helper()
	cfg := *restCfg
	cfg.QPS, cfg.Burst = qps, burst
	c, err := client.New(&cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	iso := resources.Isolation{GatewayNamespace: "faas-system", APIServer: apiServerPrefixes(t)}
	// The API server fills in the spec's defaults, as for the operator.
	defaulted := benchFunction(ns, 0)
	if err := k8s.Create(context.Background(), defaulted, client.DryRunAll); err != nil {
		t.Fatalf("create a Function, dry run: %v", err)
	}
	objects := make([][]client.Object, n)
	for i := range n {
		fn := benchFunction(ns, i)
		fn.Spec = defaulted.Spec
		objects[i] = []client.Object{resources.MakeNetworkPolicy(fn, iso), resources.MakeConfigMap(fn),
			resources.MakeService(fn), resources.MakeDeployment(fn, runnerImage, 0)}
	}
	start := time.Now()
	err = forEach(n, func(i int) error {
		for _, obj := range objects[i] {
			if err := c.Create(context.Background(), obj); err != nil {
				return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// createFunctionsUntilReady creates n Functions and returns how long until
// every one reported Ready for its generation, and until all were created.
func createFunctionsUntilReady(t *testing.T, ns string, n int) (toReady, created time.Duration) {
	t.Helper()
	wc, err := client.NewWithWatch(restCfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n)*300*time.Millisecond+2*time.Minute)
	defer cancel()
	ready := map[string]bool{}
	observe := func(fn *faasv1.Function) {
		c := meta.FindStatusCondition(fn.Status.Conditions, faasv1.ConditionReady)
		if c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == fn.Generation {
			ready[fn.Name] = true
		}
	}
	start := time.Now()
	createdCh := make(chan error, 1)
	go func() {
		err := forEach(n, func(i int) error { return k8s.Create(ctx, benchFunction(ns, i)) })
		created = time.Since(start)
		createdCh <- err
	}()
	// A watch may end early under load: list again and go on from there.
	for len(ready) < n {
		var fns faasv1.FunctionList
		if err := k8s.List(ctx, &fns, client.InNamespace(ns)); err != nil {
			t.Fatalf("list Functions with %d of %d Ready: %v", len(ready), n, err)
		}
		for i := range fns.Items {
			observe(&fns.Items[i])
		}
		w, err := wc.Watch(ctx, &faasv1.FunctionList{}, client.InNamespace(ns),
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: fns.ResourceVersion}})
		if err != nil {
			t.Fatalf("watch Functions with %d of %d Ready: %v", len(ready), n, err)
		}
		for ev := range w.ResultChan() {
			if fn, ok := ev.Object.(*faasv1.Function); ok && ev.Type != watch.Deleted {
				observe(fn)
			}
			if len(ready) == n {
				break
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			t.Fatalf("%d of %d Functions Ready after %s", len(ready), n, time.Since(start).Round(time.Second))
		}
	}
	toReady = time.Since(start)
	if err := <-createdCh; err != nil {
		t.Fatal(err)
	}
	return toReady, created
}

// forEach runs do(0..n-1) on benchCreateWorkers goroutines and returns
// the first error.
func forEach(n int, do func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range benchCreateWorkers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := do(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// apiServerPrefixes returns the API server's addresses as the operator
// puts them into NetworkPolicies.
func apiServerPrefixes(t *testing.T) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	svc, slices := apiServer(t)
	for _, ip := range svc.Spec.ClusterIPs {
		add(ip)
	}
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			for _, a := range ep.Addresses {
				add(a)
			}
		}
	}
	return out
}

// deleteNamespaceAndWait deletes ns and waits until it is gone.
func deleteNamespaceAndWait(t *testing.T, ns string) {
	t.Helper()
	start := time.Now()
	kubectl(t, "delete", "namespace", ns, "--wait", "--timeout=15m")
	t.Logf("deleted namespace %s in %s", ns, time.Since(start).Round(100*time.Millisecond))
}

// operatorPod returns the running, not terminating, in-cluster operator pod.
func operatorPod(t *testing.T) *corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.InNamespace("faas-system"),
		client.MatchingLabels{"app.kubernetes.io/name": "faas-operator"}); err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp.IsZero() {
			return p
		}
	}
	t.Fatal("no running operator pod in faas-system")
	return nil
}

// operatorMetrics are the counters of the operator's /metrics this
// benchmark reads; ok is false when the operator serves none.
type operatorMetrics struct {
	ok                          bool
	reconciles, reconcileErrors float64
	requests                    float64
}

// operatorMetricsPort is where config/operator serves metrics.
const operatorMetricsPort = 8080

// scrapeOperatorMetrics reads the operator's /metrics through the API
// server's pod proxy.
func scrapeOperatorMetrics(t *testing.T) operatorMetrics {
	t.Helper()
	pod := operatorPod(t)
	out, err := kubectlRun("get", "--raw", fmt.Sprintf("/api/v1/namespaces/faas-system/pods/%s:%d/proxy/metrics", pod.Name, operatorMetricsPort))
	if err != nil {
		return operatorMetrics{}
	}
	m := operatorMetrics{ok: true}
	for line := range strings.Lines(out) {
		name, rest, _ := strings.Cut(strings.TrimSpace(line), "{")
		labels, value, _ := strings.Cut(rest, "} ")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch {
		case name == "controller_runtime_reconcile_total" && strings.Contains(labels, `controller="function"`):
			m.reconciles += v
			if strings.Contains(labels, `result="error"`) {
				m.reconcileErrors += v
			}
		case name == "rest_client_requests_total":
			m.requests += v
		}
	}
	return m
}

// operatorMemory reads the operator container's memory (see containerMem).
func operatorMemory(t *testing.T) memUse {
	t.Helper()
	return containerMem(t, operatorPod(t), "operator")
}
