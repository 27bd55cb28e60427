//go:build e2e && bench

package e2e

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
	"github.com/minifaas/minifaas/internal/resources"
)

// The platform's memory, read on this host, where the local cluster's
// kubelet runs its containers.
//
// The figure each goal is judged on is the container's anonymous memory as
// its memory cgroup counts it: "rss" in cgroup v1's memory.stat, "anon" in
// v2's. That is the memory the process itself made (heap, stacks, the Go
// runtime's own): what GOGC, GOMEMLIMIT and the caches change, and what the
// node must find for every replica. The process's VmRSS from /proc is
// printed next to it: it adds the file-backed pages of the binary mapped
// from the image (RssFile; about 24 MiB of the gateway's 31 MiB binary),
// which are page cache, shared by every replica started from the same image
// and reclaimable, and which the cgroup charges to whoever read them first.
// memory.usage_in_bytes/memory.current is not used: it also counts page
// cache and kernel memory, which move with unrelated activity.

// memUse is one container's memory at one moment, in bytes.
type memUse struct {
	anon           int64 // the cgroup's anonymous memory
	vmRSS, rssFile int64 // summed over the container's processes
}

func (m memUse) String() string {
	return fmt.Sprintf("%.1f MiB anon (VmRSS %.1f MiB, of which %.1f MiB file-backed)", mibOf(m.anon), mibOf(m.vmRSS), mibOf(m.rssFile))
}

func mibOf(b int64) float64 { return float64(b) / (1 << 20) }

// containerMem reads the memory of pod's container named container from
// its cgroup and its processes.
func containerMem(t *testing.T, pod *corev1.Pod, container string) memUse {
	t.Helper()
	dir := containerCgroup(t, pod, container)
	var m memUse
	v2 := !strings.Contains(dir, "/memory/")
	stat := readKeyed(t, filepath.Join(dir, "memory.stat"), " ")
	if v2 {
		m.anon = stat["anon"]
	} else {
		m.anon = stat["total_rss"]
	}
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Fatalf("read the processes of %s/%s: %v", pod.Name, container, err)
	}
	for pid := range strings.FieldsSeq(string(procs)) {
		status := readKeyed(t, filepath.Join("/proc", pid, "status"), ":")
		m.vmRSS += status["VmRSS"] << 10
		m.rssFile += status["RssFile"] << 10
	}
	return m
}

// containerCgroup finds the memory cgroup of pod's container on this host:
// the kubelet names the pod's cgroup after its UID (pod<uid> with cgroupfs,
// ...-pod<uid with _>.slice with systemd) and the container's after its ID.
func containerCgroup(t *testing.T, pod *corev1.Pod, container string) string {
	t.Helper()
	var id string
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == container {
			_, id, _ = strings.Cut(cs.ContainerID, "://")
		}
	}
	if id == "" {
		t.Fatalf("pod %s has no running container %s", pod.Name, container)
	}
	root := "/sys/fs/cgroup/memory" // cgroup v1
	if _, err := os.Stat(root); err != nil {
		root = "/sys/fs/cgroup" // v2: one hierarchy
	}
	uid := string(pod.UID)
	var podDir string
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(strings.TrimPrefix(path, root), "/") > 4 {
			return fs.SkipDir
		}
		name := d.Name()
		if strings.Contains(name, "pod"+uid) || strings.Contains(name, "pod"+strings.ReplaceAll(uid, "-", "_")) {
			podDir = path
			return fs.SkipAll
		}
		return nil
	})
	if podDir == "" {
		t.Fatalf("no cgroup of pod %s (uid %s) under %s: is this the host the kubelet runs on?", pod.Name, uid, root)
	}
	entries, err := os.ReadDir(podDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && strings.Contains(e.Name(), id) {
			return filepath.Join(podDir, e.Name())
		}
	}
	t.Fatalf("no cgroup of container %s (%s) in %s", container, id, podDir)
	return ""
}

// readKeyed reads "key<sep> value [unit]" lines; values are integers.
func readKeyed(t *testing.T, path, sep string) map[string]int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if !ok {
			continue
		}
		if f := strings.Fields(v); len(f) > 0 {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[strings.TrimSpace(k)] = n
			}
		}
	}
	return out
}

func TestBenchFootprint(t *testing.T) {
	if _, err := os.Stat("/proc/self/cgroup"); err != nil {
		t.Skip("no /proc: not on the cluster's host")
	}
	ensurePlatform(t)
	ns := newNamespace(t, "bench-footprint")
	createFunction(t, ns, "warm", helloCode, func(f *faasv1.Function) { f.Spec.Concurrency = 100 })
	kubectl(t, "scale", "fn/warm", "-n", ns, "--replicas=1")
	waitReady(t, ns, "warm", faasv1.ReasonAvailable, 60*time.Second)
	createPool(t, ns, 1)

	gw := readyPod(t, "faas-system", gatewayLabels)
	op := readyPod(t, "faas-system", map[string]string{"app.kubernetes.io/name": "faas-operator"})
	poolPod := readyPod(t, ns, map[string]string{resources.PoolStateLabel: resources.PoolIdle})
	url := "http://" + gw.Status.PodIP + ":8000/invoke/warm." + ns
	mustOK(t, url)
	time.Sleep(5 * time.Second) // let the starts above settle: idle is what is measured

	idleGW := containerMem(t, gw, "gateway")
	idleOp := containerMem(t, op, "operator")
	idlePool := containerMem(t, poolPod, poolPod.Spec.Containers[0].Name)

	// Under load: 50 clients calling one warm function through this gateway
	// replica for 10 s, the gateway sampled every 100 ms; the highest sample.
	var loaded memUse
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if m := containerMem(t, gw, "gateway"); m.anon > loaded.anon {
				loaded = m
			}
		}
	})
	rps := throughput(t, url, 50, 10*time.Second)
	close(done)
	wg.Wait()

	var b strings.Builder
	fmt.Fprintf(&b, "\nMemory, from the container's memory cgroup and /proc on this host\n")
	fmt.Fprintf(&b, "  %-44s %s\n", "gateway, idle ("+gw.Name+")", idleGW)
	fmt.Fprintf(&b, "  %-44s %s\n", fmt.Sprintf("gateway, 50 clients (%.0f calls/s), peak", rps), loaded)
	fmt.Fprintf(&b, "  %-44s %s\n", "operator, idle", idleOp)
	fmt.Fprintf(&b, "  %-44s %s\n", "pool pod, idle ("+poolPod.Spec.Containers[0].Name+")", idlePool)
	t.Log(b.String())
	memGoal := func(measure string, m memUse, limitMiB float64) {
		goal(t, measure, fmt.Sprintf("%.1f MiB (VmRSS %.1f)", mibOf(m.anon), mibOf(m.vmRSS)), fmt.Sprintf("≤ %.0f MiB", limitMiB), mibOf(m.anon) <= limitMiB)
	}
	memGoal("Idle gateway memory (cgroup anon)", idleGW, 25)
	memGoal("Gateway memory under warm-call load (cgroup anon, peak)", loaded, 40)
	memGoal("Idle operator memory (cgroup anon)", idleOp, 40)
	memGoal("Idle pool pod memory (cgroup anon)", idlePool, 15)
}
