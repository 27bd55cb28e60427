package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newInvokeCommand(a *app) *cobra.Command {
	var s callSpec
	var verbose bool
	var gateway string
	c := &cobra.Command{
		Use:   "invoke <name>",
		Short: "Call a function through the gateway and print its answer as it streams",
		Long: `Call a function through the gateway and print the body of its answer as it
streams. Without -X the call is a GET, or a POST when -d is given.

The gateway is --gateway URL, else $FAAS_GATEWAY, else a port-forward to
svc/faas-gateway in faas-system that faas opens for the call. A function
in namespace N is called as /invoke/<name>.N.

-v prints the request and the answer's status and headers on stderr, the
latency, and whether the call was a cold start (the gateway's
X-Faas-Cold-Start header: pool or deployment; absent means warm).
An answer with status 400 or above is still printed, and faas exits 4
(3 when the gateway has no such function).`,
		Example: `  faas invoke hello
  faas invoke hello -d '{"name": "Ada"}' -H 'Content-Type: application/json'
  faas invoke resize -d @photo.jpg -X PUT --path /thumbnails/1?size=64
  echo hi | faas invoke echo -d @- -v`,
		Args:              args(1, 1, "the function's name"),
		ValidArgsFunction: a.completeFunctions,
		RunE: func(c *cobra.Command, args []string) error {
			return a.invoke(c, args[0], s, gateway, verbose)
		},
	}
	fs := c.Flags()
	fs.StringVarP(&s.data, "data", "d", "", "the request body: text, @file, or @- for stdin")
	fs.StringVarP(&s.method, "request", "X", "", "the HTTP method (default GET, or POST with -d)")
	fs.StringArrayVarP(&s.headers, "header", "H", nil, "a request header, 'Name: value' (repeatable)")
	fs.StringVar(&s.path, "path", "", "the path after the function's name, with an optional query: /items/3?full=1")
	fs.BoolVarP(&verbose, "verbose", "v", false, "print status, headers, latency and cold start on stderr")
	fs.StringVar(&gateway, "gateway", "", "the gateway's URL (default $FAAS_GATEWAY, else a port-forward to svc/faas-gateway)")
	return c
}

// maxErrorBody bounds how much of an error answer is kept to explain it.
const maxErrorBody = 64 << 10

func (a *app) invoke(c *cobra.Command, name string, s callSpec, gatewayFlag string, verbose bool) error {
	ctx := c.Context()
	ns := a.namespace()
	base, how, closeGateway, err := a.gatewayURL(ctx, gatewayFlag)
	if err != nil {
		return err
	}
	defer closeGateway()
	req, err := s.newRequest(base, name, ns, a.env.In)
	if err != nil {
		return usageErrorf(c, "%v", err)
	}
	req = req.WithContext(ctx)
	errOut := a.env.ErrOut
	if verbose {
		fmt.Fprintf(errOut, "* gateway %s (%s)\n", base, how)
		writeRequestHead(errOut, req)
	}
	start := time.Now()
	resp, err := a.httpClient().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) && !strings.HasPrefix(how, "port-forward") {
			return codeErrorf(ExitUnreachable, "cannot reach the gateway at %s: %v (check --gateway or $%s; unset both to port-forward to svc/%s)",
				base, ue.Err, GatewayEnv, gatewayService)
		}
		return codeErrorf(ExitUnreachable, "cannot reach the gateway through %s: %v", how, err)
	}
	defer resp.Body.Close()
	firstByte := time.Since(start)
	if verbose {
		writeResponseHead(errOut, resp)
	}
	var body []byte
	if resp.StatusCode >= 400 {
		// The start of an error answer is kept, to explain it below; all
		// of it is printed.
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err == nil {
			_, err = a.env.Out.Write(body)
		}
	}
	if err == nil {
		_, err = io.Copy(flushWriter{a.env.Out}, resp.Body)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("read the answer of %s: %w", name, err)
	}
	if verbose {
		fmt.Fprintf(errOut, "* %s in %s (first byte after %s)%s\n",
			resp.Status, round(time.Since(start)), round(firstByte), coldStart(resp))
	}
	if resp.StatusCode >= 400 {
		return answerError(name, ns, resp, body)
	}
	return nil
}

// coldStart says whether the call had to wait for a pod: the gateway's
// header names how one was found; an answered call without it was warm.
func coldStart(resp *http.Response) string {
	switch cold := resp.Header.Get(ColdStartHeader); {
	case cold != "":
		return "; cold start: " + cold
	case resp.StatusCode < 400:
		return "; warm"
	default:
		return ""
	}
}

// errorAnswer is the JSON error body the gateway and the runner share.
type errorAnswer struct {
	Error    string `json:"error"`
	Status   int    `json:"status"`
	Function string `json:"function"`
}

// answerError explains an answer with status >= 400. Only the gateway
// sets "function" in its error bodies, so a 404 with it is the gateway
// saying there is no such function, not the function answering 404.
func answerError(name, ns string, resp *http.Response, body []byte) error {
	var e errorAnswer
	isJSON := json.Unmarshal(body, &e) == nil && e.Error != ""
	switch {
	case isJSON && e.Function != "" && resp.StatusCode == http.StatusNotFound:
		return notFound(ns, name)
	case isJSON && e.Function != "":
		return codeErrorf(ExitFunctionError, "the gateway answered %s: %s", resp.Status, e.Error)
	case isJSON:
		return codeErrorf(ExitFunctionError, "the function answered %s: %s", resp.Status, e.Error)
	default:
		return codeErrorf(ExitFunctionError, "the function answered %s", resp.Status)
	}
}

func writeRequestHead(w io.Writer, req *http.Request) {
	fmt.Fprintf(w, "> %s %s HTTP/1.1\n", req.Method, req.URL.RequestURI())
	fmt.Fprintf(w, "> Host: %s\n", hostOf(req))
	if req.ContentLength > 0 {
		fmt.Fprintf(w, "> Content-Length: %d\n", req.ContentLength)
	}
	writeHeader(w, "> ", req.Header)
	fmt.Fprintln(w, ">")
}

func writeResponseHead(w io.Writer, resp *http.Response) {
	fmt.Fprintf(w, "< %s %s\n", resp.Proto, resp.Status)
	writeHeader(w, "< ", resp.Header)
	fmt.Fprintln(w, "<")
}

func writeHeader(w io.Writer, prefix string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(w, "%s%s: %s\n", prefix, k, v)
		}
	}
}

func hostOf(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// flushWriter passes each chunk of a streamed body on at once.
type flushWriter struct{ w io.Writer }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(interface{ Flush() error }); ok && err == nil {
		err = fl.Flush()
	}
	return n, err
}
