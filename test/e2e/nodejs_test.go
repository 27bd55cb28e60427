//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	faasv1 "github.com/minifaas/minifaas/api/v1alpha1"
)

// nodeJSCode answers by path: hello, a JSON echo, a throwing handler and
// one slower than its timeout.
const nodeJSCode = `
module.exports = async (req) => {
  switch (req.path) {
    case '/echo':
      return { echo: req.json(), method: req.method, type: req.headers.get('content-type'), query: req.query };
    case '/throw':
      throw new TypeError('secret detail');
    case '/slow':
      await new Promise((r) => setTimeout(r, 30000));
      return 'too late';
    default:
      return 'hello from node';
  }
};
`

func nodeJS(f *faasv1.Function) { f.Spec.Runtime = faasv1.RuntimeNodeJS }

// invoke makes one request through the gateway on a new connection and
// returns the status, the cold-start header and the body.
func invoke(t *testing.T, method, url, contentType, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header.Get("X-Faas-Cold-Start"), strings.TrimSpace(string(b))
}

// TestNodeJSDeploymentPath: a Node.js function from zero on the Deployment
// path: hello, a JSON echo, a thrown error (500, no stack), a timeout (504,
// then it still serves), and code that does not load (LoadFailed with file
// and line).
func TestNodeJSDeploymentPath(t *testing.T) {
	gw := ensurePlatform(t)
	ns := newNamespace(t, "node")
	createFunction(t, ns, "node", nodeJSCode, nodeJS, func(f *faasv1.Function) { f.Spec.TimeoutSeconds = 3 })
	url := gw + "/invoke/node." + ns

	if code, cold, body := invoke(t, "GET", url, "", ""); code != 200 || body != "hello from node" || cold != "deployment" {
		t.Fatalf("first call: %d %q cold start %q, want 200 hello from node, deployment", code, body, cold)
	}
	code, _, body := invoke(t, "POST", url+"/echo?a=1&a=2", "application/json", `{"name": "edge"}`)
	var echo map[string]any
	if err := json.Unmarshal([]byte(body), &echo); code != 200 || err != nil {
		t.Fatalf("echo: %d %q (%v)", code, body, err)
	}
	if fmt.Sprint(echo["echo"]) != "map[name:edge]" || echo["method"] != "POST" || echo["type"] != "application/json" ||
		fmt.Sprint(echo["query"]) != "map[a:1]" {
		t.Errorf("echo answered %s", body)
	}
	if code, _, body := invoke(t, "POST", url+"/echo", "application/json", "{not json"); code != 400 {
		t.Errorf("bad JSON: %d %q, want 400", code, body)
	}
	code, _, body = invoke(t, "GET", url+"/throw", "", "")
	if code != 500 || body != `{"error":"function raised TypeError","status":500}` {
		t.Errorf("throwing handler: %d %q, want 500 with no detail", code, body)
	}
	start := time.Now()
	if code, _, body := invoke(t, "GET", url+"/slow", "", ""); code != 504 {
		t.Errorf("slow handler: %d %q after %s, want 504", code, body, time.Since(start))
	}
	if code, _, body := invoke(t, "GET", url, "", ""); code != 200 || body != "hello from node" {
		t.Errorf("after a timeout: %d %q", code, body)
	}

	// Code that does not load: LoadFailed naming the file and line.
	broken := &faasv1.Function{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "broken"},
		Spec: faasv1.FunctionSpec{Runtime: faasv1.RuntimeNodeJS, MinReplicas: 1, MaxReplicas: 1,
			Code: "module.exports = (req) => {\n  return 'x'\n"},
	}
	if err := k8s.Create(context.Background(), broken); err != nil {
		t.Fatal(err)
	}
	cond := waitReady(t, ns, "broken", faasv1.ReasonLoadFailed, 90*time.Second)
	if cond.Status != metav1.ConditionFalse || !regexp.MustCompile(`SyntaxError: .*\(function\.(js|py), line 3\)`).MatchString(cond.Message) {
		t.Errorf("Ready = %+v, want False naming the SyntaxError, file and line", cond)
	}
}

// createRuntimePool makes a RuntimePool of rt and waits until its pods are
// ready.
func createRuntimePool(t *testing.T, ns string, rt faasv1.Runtime, size int32) {
	t.Helper()
	pool := &faasv1.RuntimePool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: string(rt)},
		Spec: faasv1.RuntimePoolSpec{Runtime: rt, Size: ptr.To(size)}}
	if err := k8s.Create(context.Background(), pool); err != nil {
		t.Fatalf("create RuntimePool: %v", err)
	}
	eventually(t, 90*time.Second, fmt.Sprintf("%d ready %s pool pods", size, rt), func() error {
		var p faasv1.RuntimePool
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pool), &p); err != nil {
			return err
		}
		if p.Status.ReadyPods != size {
			return fmt.Errorf("status %+v", p.Status)
		}
		return nil
	})
}

// TestNodeJSPoolPath: with a nodejs RuntimePool, the first call to a Node.js
// function at zero is served by a specialized pool pod; a Python function
// in the same namespace is never given a Node.js pod.
func TestNodeJSPoolPath(t *testing.T) {
	ensurePlatform(t)
	// One gateway replica: "warm" is per replica, and another replica that
	// has not seen the hand-over yet rightly reports its first call as cold.
	gw := "http://" + net.JoinHostPort(readyPodIP(t, "faas-system", gatewayLabels), "8000")
	ns := newNamespace(t, "nodepool")
	createRuntimePool(t, ns, faasv1.RuntimeNodeJS, 1)
	createFunction(t, ns, "node", nodeJSCode, nodeJS, func(f *faasv1.Function) { f.Spec.TimeoutSeconds = 3 })
	url := gw + "/invoke/node." + ns

	start := time.Now()
	code, cold, body := invoke(t, "GET", url, "", "")
	if code != 200 || body != "hello from node" || cold != "pool" {
		t.Fatalf("first call: %d %q cold start %q, want 200 hello from node, pool", code, body, cold)
	}
	t.Logf("first call at zero with a warm nodejs pool answered in %s", time.Since(start).Round(100*time.Microsecond))
	if code, cold, _ := invoke(t, "GET", url, "", ""); code != 200 || cold != "" {
		t.Errorf("second call: %d, cold start %q, want a warm 200", code, cold)
	}
	if code, _, body := invoke(t, "GET", url+"/throw", "", ""); code != 500 || body != `{"error":"function raised TypeError","status":500}` {
		t.Errorf("throwing handler on the pool pod: %d %q", code, body)
	}
	if code, _, _ := invoke(t, "GET", url+"/slow", "", ""); code != 504 {
		t.Errorf("slow handler on the pool pod: %d, want 504", code)
	}
	if code, _, body := invoke(t, "GET", url, "", ""); code != 200 || body != "hello from node" {
		t.Errorf("after a timeout on the pool pod: %d %q", code, body)
	}

	// The pool holds only Node.js pods: a Python function takes the
	// Deployment path.
	createFunction(t, ns, "py", helloCode)
	if code, cold, body := invoke(t, "GET", gw+"/invoke/py."+ns, "", ""); code != 200 || body != "hello from runner" || cold != "deployment" {
		t.Errorf("python function next to a nodejs pool: %d %q cold start %q, want deployment", code, body, cold)
	}
}
