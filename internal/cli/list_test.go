package cli

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

func listFixtures() []*faasv1.Function {
	hello := readyFunction("default", "hello", code1, faasv1.ReasonAvailable, "1 of 1 pods ready")
	hello.Status.DesiredReplicas, hello.Status.ReadyReplicas = 1, 1
	broken := readyFunction("default", "broken", code1, faasv1.ReasonLoadFailed, "the function's code failed to load: boom")
	broken.Status.DesiredReplicas = 1
	broken.Spec.MinReplicas = 1
	other := readyFunction("shop", "cart", code1, faasv1.ReasonScaledToZero, "scaled to zero")
	other.CreationTimestamp = metav1.NewTime(testNow.Add(-3 * 24 * 3600e9))
	// Changed after the operator last looked: Pending.
	fresh := readyFunction("default", "fresh", code1, faasv1.ReasonScaledToZero, "")
	fresh.Generation = 2
	return []*faasv1.Function{hello, broken, other, fresh}
}

func TestListTable(t *testing.T) {
	fns := listFixtures()
	h := newHarness(t, withObjects(fns[0], fns[1], fns[2], fns[3]))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list"}, `NAME     RUNTIME   DESIRED/READY   STATUS       AGE   URL
broken   python    1/0             LoadFailed   90s   /invoke/broken
fresh    python    0/0             Pending      90s   /invoke/fresh
hello    python    1/1             Available    90s   /invoke/hello
`},
		{[]string{"list", "-n", "shop", "-o", "wide"}, `NAME   RUNTIME   DESIRED/READY   STATUS         AGE   MIN   MAX   CONCURRENCY   URL
cart   python    0/0             ScaledToZero   3d    0     5     10            /invoke/cart.shop
`},
		{[]string{"ls", "-A"}, `NAMESPACE   NAME     RUNTIME   DESIRED/READY   STATUS         AGE   URL
default     broken   python    1/0             LoadFailed     90s   /invoke/broken
default     fresh    python    0/0             Pending        90s   /invoke/fresh
default     hello    python    1/1             Available      90s   /invoke/hello
shop        cart     python    0/0             ScaledToZero   3d    /invoke/cart.shop
`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if got := h.mustRun(tc.args...); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestListEmptyAndJSON(t *testing.T) {
	h := newHarness(t)
	if out := h.mustRun("list", "-n", "empty"); out != "" || h.err.String() != "No functions in namespace empty.\n" {
		t.Errorf("stdout %q stderr %q", out, h.err)
	}
	fns := listFixtures()
	h = newHarness(t, withObjects(fns[0]))
	var list faasv1.FunctionList
	if err := json.Unmarshal([]byte(h.mustRun("list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "FunctionList" || len(list.Items) != 1 || list.Items[0].Kind != "Function" || list.Items[0].ManagedFields != nil {
		t.Errorf("list -o json = %+v", list)
	}
	if out := h.mustRun("list", "-o", "yaml"); !strings.Contains(out, "kind: FunctionList") || !strings.Contains(out, "name: hello") {
		t.Errorf("list -o yaml:\n%s", out)
	}
	if code := h.run("list", "-o", "table"); code != ExitUsage {
		t.Errorf("-o table: exit %d", code)
	}
}
