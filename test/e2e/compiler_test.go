//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/minifaas/minifaas/internal/kube"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

var compilerLabels = map[string]string{"app.kubernetes.io/name": "faas-compiler"}

// gatewayCompiles returns, per ready gateway pod IP, its count of compiles
// ahead with result.
func gatewayCompiles(t *testing.T, result string) map[string]int {
	t.Helper()
	var pods corev1.PodList
	if err := k8s.List(context.Background(), &pods, client.InNamespace("faas-system"), client.MatchingLabels(gatewayLabels)); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || !kube.PodReady(&p) {
			continue
		}
		body, err := get("http://" + net.JoinHostPort(p.Status.PodIP, "9090") + "/metrics")
		if err != nil {
			t.Fatalf("gateway %s metrics: %v", p.Name, err)
		}
		prefix := fmt.Sprintf(`faas_gateway_compiles_total{result=%q} `, result)
		out[p.Status.PodIP] = 0
		for _, line := range strings.Split(body, "\n") {
			if n, ok := strings.CutPrefix(line, prefix); ok {
				out[p.Status.PodIP], _ = strconv.Atoi(n)
			}
		}
	}
	return out
}

// waitCompiles waits until every gateway pod in before counted n more
// compiles with result.
func waitCompiles(t *testing.T, result string, before map[string]int, n int) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("%d more %s compiles on every gateway", n, result), func() error {
		now := gatewayCompiles(t, result)
		for ip, b := range before {
			if now[ip]-b < n {
				return fmt.Errorf("gateway %s: %d, was %d", ip, now[ip], b)
			}
		}
		return nil
	})
}

// specializedCompiled reads whether the function's pool pod loaded
// compiled code.
func specializedCompiled(t *testing.T, ns, fn string) bool {
	t.Helper()
	var st runnerapi.Stats
	eventually(t, 10*time.Second, "the stats of "+fn+"'s pod", func() error {
		pods := functionPods(t, ns, fn)
		if len(pods) != 1 || pods[0].Status.PodIP == "" {
			return fmt.Errorf("%d pods", len(pods))
		}
		body, err := get("http://" + net.JoinHostPort(pods[0].Status.PodIP, strconv.Itoa(runnerapi.AdminPort)) + runnerapi.StatsPath)
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil || st.SpecializeMicros == nil {
			return fmt.Errorf("stats %s: %v", body, err)
		}
		return nil
	})
	t.Logf("%s specialized in %d µs, compiled code: %v", fn, *st.SpecializeMicros, st.SpecializedCompiled)
	return st.SpecializedCompiled
}

// TestCompilerCompilesAheadAndSurvivesHostileCode: inline code is compiled
// by the compiler when the Function is made, and the pool pod that serves
// its first call loads that instead of compiling; code that does not
// compile, or that tries to exhaust the compiler, leaves the function
// answered as before (the runner says why) and the compiler serving.
func TestCompilerCompilesAheadAndSurvivesHostileCode(t *testing.T) {
	gw := ensurePlatform(t)
	readyPod(t, "faas-system", compilerLabels)
	ns := newNamespace(t, "compiler")
	createPool(t, ns, 2)

	compiledBefore := gatewayCompiles(t, "compiled")
	uncompilableBefore := gatewayCompiles(t, "uncompilable")
	var b strings.Builder
	b.WriteString("GREETING = 'compiled ahead'\ndef handle(req):\n    return GREETING\n")
	for i := 0; b.Len() < 20_000; i++ {
		fmt.Fprintf(&b, "\ndef helper_%d(x):\n    return x * %d\n", i, i)
	}
	createFunction(t, ns, "ahead", b.String())
	// Nesting deep enough to exhaust the parser: the compiler refuses it
	// (its child hits the limit, not the server), as the runner will.
	deep := "def handle(req):\n    return " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000) + "\n"
	createFunction(t, ns, "deep", deep)
	createFunction(t, ns, "broken", "def handle(req)\n    return 1\n")
	waitCompiles(t, "compiled", compiledBefore, 1)
	waitCompiles(t, "uncompilable", uncompilableBefore, 2)

	if got := httpGet(t, gw+"/invoke/ahead."+ns); got != "compiled ahead" {
		t.Fatalf("first call answered %q", got)
	}
	if !specializedCompiled(t, ns, "ahead") {
		t.Errorf("the pool pod compiled the code itself: it was compiled ahead")
	}
	for _, name := range []string{"broken", "deep"} {
		code, body, err := call("GET", gw+"/invoke/"+name+"."+ns, "")
		if err != nil || code != 503 || !strings.Contains(body, "function.py") {
			t.Errorf("%s: %d %q %v; want 503 with the runner's reason", name, code, body, err)
		}
	}

	// Still serving after the hostile sources: a new version is compiled
	// and served compiled.
	compiledBefore = gatewayCompiles(t, "compiled")
	kubectl(t, "patch", "fn", "ahead", "-n", ns, "--type=merge", "-p",
		`{"spec":{"code":"def handle(req):\n    return 'version 2'\n"}}`)
	waitCompiles(t, "compiled", compiledBefore, 1)
	waitAnswer(t, gw+"/invoke/ahead."+ns, "version 2", 30*time.Second)
}
