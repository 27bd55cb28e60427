package fetcher

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/minifaas/minifaas/internal/packages"
	"github.com/minifaas/minifaas/internal/runnerapi"
)

// statusOf maps an error of getting a package to the answer's status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errdef.ErrNotFound):
		return http.StatusNotFound
	case isInvalid(err):
		return http.StatusUnprocessableEntity
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case unreachable(err):
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// isInvalid reports whether err says the artifact is not a package the
// fetcher serves: found, and wrong or tampered with.
func isInvalid(err error) bool {
	for _, target := range []error{
		packages.ErrInvalidArtifact, packages.ErrTooLarge, packages.ErrTooManyEntries,
		packages.ErrUnsafePath, packages.ErrUnsupportedType, packages.ErrDuplicateEntry,
		content.ErrMismatchedDigest, content.ErrTrailingData, content.ErrInvalidDescriptorSize,
		gzip.ErrHeader, gzip.ErrChecksum, tar.ErrHeader,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// unreachable reports whether err came from reaching the registry (its
// address, the network, or an answer it should not have given, such as
// 401), rather than from this node.
func unreachable(err error) bool {
	var (
		urlErr  *url.Error
		netErr  net.Error
		respErr *errcode.ErrorResponse
	)
	return errors.Is(err, errRegistryUnavailable) || errors.As(err, &urlErr) || errors.As(err, &netErr) || errors.As(err, &respErr)
}

// writeError answers status with a runnerapi.ErrorBody.
func writeError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(runnerapi.ErrorBody{Error: msg, Status: status})
}
