//go:build e2e

package e2e

import (
	"io"
	"net/http"
	"strings"
)

// call makes one request on a new connection and returns its status and body.
func call(method, url, body string) (int, string, error) {
	return callWith(httpClient, method, url, body)
}

// callWith makes one request with client c.
func callWith(c *http.Client, method, url, body string) (int, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}
