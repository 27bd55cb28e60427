package podlogs

import (
	"context"
	"fmt"
	"io"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// Print prints the logs of pods, one pod after the other in name order,
// and returns. A pod whose container has not started is noted on errOut.
func Print(ctx context.Context, cs kubernetes.Interface, pods []corev1.Pod, o Options, out, errOut io.Writer) error {
	sorted := append([]corev1.Pod(nil), pods...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	lw := &lineWriter{w: out}
	for i := range sorted {
		p := &sorted[i]
		if !started(containerStatus(p, o.Container)) {
			fmt.Fprintf(errOut, "pod %s: no log yet (%s)\n", p.Name, p.Status.Phase)
			continue
		}
		rc, err := cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, o.logOptions(false, true)).Stream(ctx)
		if err != nil {
			return fmt.Errorf("logs of pod %s: %w", p.Name, err)
		}
		_, err = lw.copyLines(p.Name, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("logs of pod %s: %w", p.Name, err)
		}
	}
	return nil
}
