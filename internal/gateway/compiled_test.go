package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/minifaas/minifaas/internal/gateway/compiled"
	"github.com/minifaas/minifaas/internal/gateway/httpapi"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// fakeCompiler answers every compile with "PYC:" and the source.
type fakeCompiler struct {
	mu      sync.Mutex
	sources []string
}

func (c *fakeCompiler) compiled() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.sources...)
}

func startCompiler(t *testing.T, ip string) (*fakeCompiler, *discoveryv1.EndpointSlice) {
	t.Helper()
	c := &fakeCompiler{}
	srv := listenOn(t, ip, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.sources = append(c.sources, string(b))
		c.mu.Unlock()
		w.Header().Set("Content-Type", runnerapi.CompiledMediaType)
		_, _ = io.WriteString(w, "PYC:"+string(b))
	}))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return c, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "faas-system", Name: "faas-compiler-x",
			Labels: map[string]string{discoveryv1.LabelServiceName: "faas-compiler"}},
		Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(p))}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
	}
}

func TestNewCodeIsCompiledAheadAndSentWithTheSpecialization(t *testing.T) {
	gw, pod, compiler := compilingGateway(t, "127.0.0.41")

	fn := testFunction("ahead")
	gw.OnFunction(fn)
	eventually(t, "the code compiled", func() bool { return len(compiler.compiled()) == 1 })
	if got := compiler.compiled()[0]; got != fn.Spec.Code {
		t.Fatalf("compiler got %q", got)
	}
	eventually(t, "the compiled code kept", func() bool {
		return gw.claimer.Compiled.Compiled(gw.entry(key("ahead"), false).info.Load().Spec.CodeKey) != nil
	})
	// A status-only update compiles nothing again.
	fn.Status.Replicas = 0
	gw.OnFunction(fn)

	rec := do(gw.handler, http.MethodGet, "/invoke/ahead", "", nil)
	if rec.Code != http.StatusOK || rec.Header().Get(httpapi.ColdStartHeader) != "pool" {
		t.Fatalf("cold call: %d %q %s", rec.Code, rec.Header().Get(httpapi.ColdStartHeader), rec.Body)
	}
	spec := gw.entry(key("ahead"), false).info.Load().Spec
	want := strconv.Itoa(len(spec.Body)) + "|" + string(spec.Body) + "PYC:" + fn.Spec.Code
	if got := pod.lastSpecialization.Load(); got == nil || *got != want {
		t.Errorf("pod got %v, want %q", got, want)
	}

	// New code is compiled too; the old stays for pods of the old version.
	fn = testFunction("ahead")
	fn.Spec.Code = "def handle(req):\n    return 'new'\n"
	fn.Generation = 2
	gw.OnFunction(fn)
	eventually(t, "the new code compiled", func() bool { return len(compiler.compiled()) == 2 })
	time.Sleep(50 * time.Millisecond)
	if got := compiler.compiled(); len(got) != 2 || !strings.Contains(got[1], "'new'") {
		t.Errorf("compiles %q, want the first code then the new one, once each", got)
	}
}

func TestWithoutACompilerTheSpecializationCarriesTheSourceOnly(t *testing.T) {
	p := freePorts(t)
	pod := startPod(t, "127.0.0.43", p)
	gw := newTestGateway(t, compilingConfig(p))
	gw.SetPoolKey([]byte("key"))
	go gw.RunCompiler(gw.bg)
	setPool(gw, idlePod("pool-a", "127.0.0.43"))
	gw.OnFunction(testFunction("plain"))
	rec := do(gw.handler, http.MethodGet, "/invoke/plain", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("cold call: %d %s", rec.Code, rec.Body)
	}
	spec := gw.entry(key("plain"), false).info.Load().Spec
	if got := pod.lastSpecialization.Load(); got == nil || *got != "|"+string(spec.Body) {
		t.Errorf("pod got %v, want the specialization alone", got)
	}
}

// compilingGateway is a gateway compiling ahead with the fake compiler,
// and one pool pod at ip.
func compilingGateway(t *testing.T, ip string) (*testGateway, *fakePod, *fakeCompiler) {
	t.Helper()
	p := freePorts(t)
	pod := startPod(t, ip, p)
	compiler, compilerSlice := startCompiler(t, "127.0.0.42")
	gw := newTestGateway(t, compilingConfig(p))
	gw.SetPoolKey([]byte("key"))
	go gw.RunCompiler(gw.bg)
	gw.OnCompilerSlice(compilerSlice, false)
	setPool(gw, idlePod("pool-a", ip))
	return gw, pod, compiler
}

// compilingConfig is testConfig compiling ahead.
func compilingConfig(p ports) Config {
	cfg := testConfig(p)
	cfg.CompilerService, cfg.CompileTimeout, cfg.CompileRetryInterval, cfg.CompileAttempts, cfg.CompiledCacheBytes = "faas-compiler", time.Second, 10*time.Millisecond, 3, 1<<20
	return cfg
}

// gatewayWithCompiledCode is compilingGateway with fn's code compiled
// ahead.
func gatewayWithCompiledCode(t *testing.T, ip, fn string) (*testGateway, *fakePod, *fakeCompiler) {
	t.Helper()
	gw, pod, compiler := compilingGateway(t, ip)
	gw.OnFunction(testFunction(fn))
	eventually(t, "the code compiled", func() bool {
		return len(compiler.compiled()) == 1 && gw.claimer.Compiled.Compiled(gw.entry(key(fn), false).info.Load().Spec.CodeKey) != nil
	})
	return gw, pod, compiler
}

func TestAPodRefusingCompiledCodeIsSpecializedWithTheSourceAlone(t *testing.T) {
	gw, pod, _ := gatewayWithCompiledCode(t, "127.0.0.44", "skew")
	pod.refuseCompiled.Store(true) // a runner from before compile-ahead
	rec := do(gw.handler, http.MethodGet, "/invoke/skew", "", nil)
	if rec.Code != http.StatusOK || rec.Header().Get(httpapi.ColdStartHeader) != "pool" {
		t.Fatalf("cold call: %d %q %s", rec.Code, rec.Header().Get(httpapi.ColdStartHeader), rec.Body)
	}
	spec := gw.entry(key("skew"), false).info.Load().Spec
	if got := pod.lastSpecialization.Load(); got == nil || *got != "|"+string(spec.Body) {
		t.Errorf("pod last got %v, want the specialization alone", got)
	}
	if n := pod.specializations.Load(); n != 2 {
		t.Errorf("%d specializations, want 2 (with the compiled code, then without)", n)
	}
}

func TestAPodThatRefusesASpecializationStaysClaimable(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			gw, pod, _ := gatewayWithCompiledCode(t, "127.0.0.45", "refused")
			pod.specializeStatus.Store(int32(status))
			// No pool pod is left then, and no Deployment pod comes here:
			// the caller gives up.
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			gw.handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/invoke/refused", nil).WithContext(ctx))
			if pod.specializations.Load() == 0 {
				t.Fatal("the pod was never asked")
			}
			// It took nothing: the pool's pod is not lost to this replica.
			if n := gw.view.IdleCount("default", "python"); n != 1 {
				t.Errorf("claimable pods after a %d refusal: %d, want 1", status, n)
			}
		})
	}
}

func TestADeletedFunctionsCodeIsNoLongerWaitingForACompile(t *testing.T) {
	p := freePorts(t)
	gw := newTestGateway(t, compilingConfig(p)) // no compiler ever ready
	for i := range 50 {
		fn := testFunction("versions")
		fn.Spec.Code = "def handle(req):\n    return " + strconv.Itoa(i) + "\n"
		fn.Generation = int64(i + 1)
		gw.OnFunction(fn)
	}
	gw.OnFunction(testFunction("other"))
	if n := gw.compiler.Pending(); n != 2 {
		t.Fatalf("%d sources wait, want 2 (the latest of each function)", n)
	}
	gw.OnFunctionDeleted("default", "versions")
	if n := gw.compiler.Pending(); n != 1 {
		t.Fatalf("%d sources wait after a delete, want 1", n)
	}
}

func TestCodeTheCacheLetGoIsCompiledAgainAtTheNextColdStart(t *testing.T) {
	gw, _, compiler := gatewayWithCompiledCode(t, "127.0.0.46", "evicted")
	cache := gw.claimer.Compiled.(*compiled.Cache)
	cache.Put("other", make([]byte, 1<<20)) // the whole cache: the function's code goes
	codeKey := gw.entry(key("evicted"), false).info.Load().Spec.CodeKey
	if cache.Has(codeKey) {
		t.Fatal("the code was not evicted")
	}
	if rec := do(gw.handler, http.MethodGet, "/invoke/evicted", "", nil); rec.Code != http.StatusOK {
		t.Fatalf("cold call: %d %s", rec.Code, rec.Body)
	}
	eventually(t, "the code compiled again", func() bool { return len(compiler.compiled()) == 2 })
}
