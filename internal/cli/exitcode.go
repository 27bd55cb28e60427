package cli

import "fmt"

// Exit codes scripts can rely on; root.go prints them in `faas --help`.
const (
	ExitOK = 0
	// ExitError is any failure not listed below.
	ExitError = 1
	// ExitUsage: an unknown command or flag, wrong arguments, or invalid
	// settings (flags, faas.yaml, or refused by the API server).
	ExitUsage = 2
	// ExitNotFound: no such function.
	ExitNotFound = 3
	// ExitFunctionError: invoke was answered with HTTP status >= 400.
	ExitFunctionError = 4
	// ExitFailed: deploy --wait saw the code fail to load, or the operator
	// fail to make the function's objects.
	ExitFailed = 5
	// ExitUnreachable: no cluster configured, the API server or the gateway
	// cannot be reached, or the Function CRD is not installed.
	ExitUnreachable = 6
	// ExitTimeout: deploy --wait or delete --wait ran out of time.
	ExitTimeout = 7
	// ExitBuildFailed: deploy --wait saw the function's package fail to
	// build (PackageBuilt=False, BuildFailed: pip's output is printed) or
	// refused by the operator (PackageInvalid).
	ExitBuildFailed = 8
	// ExitInterrupted: stopped by Ctrl-C or SIGTERM (128 + SIGINT).
	ExitInterrupted = 130
)

// exitCodesHelp is the exit code table of `faas --help`.
const exitCodesHelp = `Exit codes:
  0    success
  1    an error not listed below
  2    usage: unknown command or flag, wrong arguments, invalid settings
       (flags, faas.yaml, or refused by the API server)
  3    no such function
  4    invoke: the call was answered with HTTP status 400 or above
  5    deploy: the code failed to load, or the function's objects could not be made
  6    cannot reach the platform: no cluster configured, API server or gateway
       unreachable, or the Function CRD not installed
  7    timed out waiting (deploy --wait, delete --wait)
  8    deploy: the package failed to build (pip's output is shown), or the
       operator refused it
  130  interrupted`

// exitError carries the exit code of an error whose message is already
// the one line to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode gives err an exit code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// codeErrorf is withCode(code, fmt.Errorf(format, args...)).
func codeErrorf(code int, format string, args ...any) error {
	return withCode(code, fmt.Errorf(format, args...))
}
