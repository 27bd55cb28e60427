package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// callSpec is an invoke as the flags describe it.
type callSpec struct {
	method  string
	data    string // "", literal, @file or @-
	headers []string
	path    string // sub-path, with an optional ?query
}

// ColdStartHeader is set by the gateway on a call that had to wait for a
// pod, to "pool" or "deployment"; a call without it was warm.
const ColdStartHeader = "X-Faas-Cold-Start"

// newRequest builds the request to the function through the gateway at
// base. The body is read from stdin or a file as the call is sent.
func (s callSpec) newRequest(base, name, namespace string, stdin io.Reader) (*http.Request, error) {
	target, err := callURL(base, name, namespace, s.path)
	if err != nil {
		return nil, err
	}
	body, size, err := s.body(stdin)
	if err != nil {
		return nil, err
	}
	method := s.method
	if method == "" {
		method = http.MethodGet
		if s.data != "" {
			method = http.MethodPost
		}
	}
	req, err := http.NewRequest(strings.ToUpper(method), target, body)
	if err != nil {
		return nil, fmt.Errorf("-X %q: %w", method, err)
	}
	if size >= 0 {
		req.ContentLength = size
	}
	for _, h := range s.headers {
		k, v, ok := strings.Cut(h, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("-H %q: want 'Name: value'", h)
		}
		v = strings.TrimSpace(v)
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Add(k, v)
	}
	return req, nil
}

// callURL is base + /invoke/<name>.<namespace> + sub-path and query.
func callURL(base, name, namespace, sub string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("gateway URL %q: %w", base, err)
	}
	u.RawQuery, u.Fragment = "", ""
	path, query := qualifiedInvokePath(name, namespace), ""
	if sub != "" {
		if !strings.HasPrefix(sub, "/") {
			sub = "/" + sub
		}
		rest, err := url.Parse(sub)
		if err != nil || rest.Scheme != "" || rest.Host != "" {
			return "", fmt.Errorf("--path %q is not a path like /items/3?full=1", sub)
		}
		if rest.EscapedPath() != "/" {
			path += rest.EscapedPath()
		}
		query = rest.RawQuery
	}
	return trimSlash(u.String()) + path + queryPart(query), nil
}

func queryPart(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

// body opens -d's data: a literal, @file or @- (stdin); size is -1 when
// unknown (sent chunked).
func (s callSpec) body(stdin io.Reader) (io.ReadCloser, int64, error) {
	switch {
	case s.data == "":
		return http.NoBody, 0, nil
	case s.data == "@-":
		return io.NopCloser(stdin), -1, nil
	case strings.HasPrefix(s.data, "@"):
		f, err := os.Open(s.data[1:])
		if err != nil {
			return nil, 0, fmt.Errorf("-d %s: %w", s.data, err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("-d %s: %w", s.data, err)
		}
		return f, st.Size(), nil
	default:
		return io.NopCloser(strings.NewReader(s.data)), int64(len(s.data)), nil
	}
}
