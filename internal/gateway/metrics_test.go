package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The waiting and in-flight gauges read each function's load at scrape time.
func TestLoadGaugesShowWaitingCalls(t *testing.T) {
	p := freePorts(t)
	gw := newTestGateway(t, testConfig(p))
	gw.OnFunction(testFunction("held"))
	go do(gw.handler, http.MethodGet, "/invoke/held", "", nil)
	eventually(t, "call waiting", func() bool { return gw.entry(key("held"), false).breaker.Stats().Waiting == 1 })
	want := `
# HELP faas_gateway_waiting_calls Calls held waiting for a free pod on this replica, by function.
# TYPE faas_gateway_waiting_calls gauge
faas_gateway_waiting_calls{function="default/held"} 1
`
	if err := testutil.GatherAndCompare(gw.metrics.Registry, strings.NewReader(want), "faas_gateway_waiting_calls"); err != nil {
		t.Error(err)
	}
}
