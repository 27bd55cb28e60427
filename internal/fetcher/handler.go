package fetcher

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/opencontainers/go-digest"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// HeaderPackageDigest is the answer's header naming the package's digest.
const HeaderPackageDigest = "X-Package-Digest"

// opener is what the handler needs of the store.
type opener interface {
	open(ctx context.Context, r ref) (*os.File, bool, error)
}

// packageHandler answers GET and HEAD of runnerapi.FetchPath +
// <namespace>/<function>/sha256:<hex> with the package's tar, to the bearer
// of its ticket.
type packageHandler struct {
	key         []byte
	store       opener
	sendTimeout time.Duration
	metrics     *metrics
	log         logr.Logger
}

var _ http.Handler = (*packageHandler)(nil)

func (h *packageHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.refuse(w, http.StatusMethodNotAllowed, "only GET and HEAD")
		return
	}
	r, status, err := parsePackagePath(req.URL.Path)
	if err != nil {
		h.refuse(w, status, err.Error())
		return
	}
	// The ticket first: nothing else is done for a request without one.
	if !packages.VerifyTicket(h.key, r.repository(), r.digest, bearer(req.Header.Get("Authorization"))) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="faas-fetcher"`)
		h.refuse(w, http.StatusUnauthorized, fmt.Sprintf("no valid ticket for %s@%s", r.repository(), r.digest))
		return
	}
	f, hit, err := h.store.open(req.Context(), r)
	// From here on, the answer is bounded by sendTimeout, not by how long
	// the fetch took.
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.sendTimeout)); err != nil {
		h.log.V(1).Info("Could not bound the answer's write", "err", err)
	}
	if err != nil {
		h.fail(w, req, r, err)
		return
	}
	defer f.Close()
	result := resultMiss
	if hit {
		result = resultHit
	}
	h.metrics.requests.WithLabelValues(result).Inc()
	hdr := w.Header()
	hdr.Set("Content-Type", runnerapi.PackageMediaType)
	hdr.Set(HeaderPackageDigest, r.digest.String())
	hdr.Set("ETag", `"`+r.digest.String()+`"`)
	hdr.Set("X-Content-Type-Options", "nosniff")
	// ServeContent sends the file with sendfile(2) when it can.
	http.ServeContent(w, req, "", time.Time{}, f)
	h.log.V(1).Info("Served package", "namespace", r.namespace, "function", r.function, "digest", r.digest,
		"cached", hit, "duration", time.Since(start))
}

func (h *packageHandler) refuse(w http.ResponseWriter, status int, msg string) {
	h.metrics.requests.WithLabelValues(resultRefused).Inc()
	writeError(w, status, msg)
}

func (h *packageHandler) fail(w http.ResponseWriter, req *http.Request, r ref, err error) {
	if req.Context().Err() != nil {
		// The runner went away; nobody reads an answer.
		return
	}
	h.metrics.requests.WithLabelValues(resultFailed).Inc()
	status := statusOf(err)
	if status >= http.StatusInternalServerError || status == http.StatusUnprocessableEntity {
		h.log.Error(err, "Could not get package", "namespace", r.namespace, "function", r.function, "digest", r.digest, "status", status)
	}
	writeError(w, status, err.Error())
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(header string) string {
	scheme := runnerapi.AuthorizationScheme
	if len(header) < len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return ""
	}
	return header[len(scheme):]
}

// parsePackagePath parses runnerapi.FetchPath + <namespace>/<function>/<digest>:
// a path of another shape is not found (404); one with a namespace or
// function that is not a DNS label, or a digest that is not sha256, is a
// bad request (400).
func parsePackagePath(p string) (ref, int, error) {
	rest, ok := strings.CutPrefix(p, runnerapi.FetchPath)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		return ref{}, http.StatusNotFound, errors.New("not a package: " + runnerapi.FetchPath + "<namespace>/<function>/sha256:<hex>")
	}
	for _, label := range parts[:2] {
		if errs := validation.IsDNS1123Label(label); len(errs) > 0 {
			return ref{}, http.StatusBadRequest, fmt.Errorf("%q: %s", label, strings.Join(errs, "; "))
		}
	}
	d, err := digest.Parse(parts[2])
	if err != nil || d.Algorithm() != digest.SHA256 {
		return ref{}, http.StatusBadRequest, fmt.Errorf("%q is not a sha256 digest", parts[2])
	}
	return ref{namespace: parts[0], function: parts[1], digest: d}, 0, nil
}
