//go:build e2e && bench

package e2e

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// packageFolder writes a function folder of about size bytes: a handler
// and one incompressible data file.
func packageFolder(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pkg")
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "blob.bin"), string(data))
	writeFile(t, filepath.Join(dir, "handler.py"), "def handle(req):\n    return 'hello from a package'\n")
	return dir
}

// TestBenchPackageFirstCall: the first call at zero of a function whose
// package is 20 MB, through a pool pod, with the node's fetcher cache cold
// (each function a package of its own) and warm (functions sharing one
// package the cache already holds), against the same warm package through
// the Deployment path (a namespace without a pool).
func TestBenchPackageFirstCall(t *testing.T) {
	ensurePlatform(t)
	gwPod := readyPodIP(t, "faas-system", gatewayLabels)
	poolNS := newNamespace(t, "bench-pkg")
	plainNS := newNamespace(t, "bench-pkg-nopool")
	const poolSize, coldRuns, warmRuns, deployRuns, size = 2, 5, 10, 3, 20 << 20
	createPool(t, poolNS, poolSize)
	long := []string{"--idle", "1h"}

	var cold, warm, deploy []string
	for i := range coldRuns {
		cold = append(cold, fmt.Sprintf("cold-%d", i))
		faas(t, append([]string{"deploy", packageFolder(t, size), "-n", poolNS, "--name", cold[i]}, long...)...)
	}
	shared := packageFolder(t, size)
	// w-0 fills the cache; the others are measured.
	for i := range warmRuns + 1 {
		warm = append(warm, fmt.Sprintf("w-%d", i))
		faas(t, append([]string{"deploy", shared, "-n", poolNS, "--name", warm[i]}, long...)...)
	}
	for i := range deployRuns {
		deploy = append(deploy, fmt.Sprintf("d-%d", i))
		faas(t, append([]string{"deploy", shared, "-n", plainNS, "--name", deploy[i]}, long...)...)
	}
	poolReady := fullPool(t, gwPod, poolNS, poolSize)
	viaPoolCold := coldStartsViaGateway(t, gwPod, poolNS, cold, poolReady)
	viaPoolWarm := coldStartsViaGateway(t, gwPod, poolNS, warm, poolReady)[1:]
	viaDeployment := coldStartsViaGateway(t, gwPod, plainNS, deploy, func() {})
	_, coldFallbacks, _ := specializeMicros(t, poolNS, cold)
	_, warmFallbacks, _ := specializeMicros(t, poolNS, warm[1:])

	t.Logf("\nFirst call at zero of a function with a 20 MB package, through the gateway\n"+
		"  pool, cold node cache (%d functions)   %s\n"+
		"  pool, warm node cache (%d functions)   %s\n"+
		"  Deployment path, warm cache (%d)       %s\n"+
		"  Deployment path vs warm pool: p50 %s\n"+
		"Calls served by the Deployment path because no pool pod was claimable: %d of %d, %d of %d",
		coldRuns, viaPoolCold, warmRuns, viaPoolWarm, deployRuns, viaDeployment,
		ratio(viaDeployment.pct(.5), viaPoolWarm.pct(.5)), coldFallbacks, coldRuns, warmFallbacks, warmRuns)
	goal(t, "Pool first call, 20 MB package, cold node cache",
		fmt.Sprintf("p50 %s, max %s (Deployment path p50 %s)", round(viaPoolCold.pct(.5)), round(viaPoolCold.pct(1)), round(viaDeployment.pct(.5))),
		"≤ 300ms", viaPoolCold.pct(.5) <= 300*time.Millisecond && coldFallbacks == 0)
	goal(t, "Pool first call, 20 MB package, warm node cache",
		fmt.Sprintf("p50 %s, max %s", round(viaPoolWarm.pct(.5)), round(viaPoolWarm.pct(1))),
		"≤ 50ms", viaPoolWarm.pct(.5) <= 50*time.Millisecond && warmFallbacks == 0)
}
