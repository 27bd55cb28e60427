package runnerapi

// Ports a runner listens on. Calls and the runner's internal endpoints are
// on separate ports so that no call path can reach an internal endpoint:
// the public call port treats every path as the function's.
const (
	// CallPort serves the function's calls, every path of them.
	CallPort = 8080
	// AdminPort serves ReadyPath, HealthPath, StatsPath and SpecializePath,
	// to the kubelet and the gateway only.
	AdminPort = 8081
)

// Internal paths, served on AdminPort only.
const (
	// ReadyPath answers 200 while the runner serves a function, or is a pool
	// pod waiting for its specialization, and 503 otherwise.
	ReadyPath = "/_/ready"
	// HealthPath answers 200 while the process lives.
	HealthPath = "/_/health"
	// StatsPath answers Stats as JSON.
	StatsPath = "/_/stats"
	// SpecializePath takes one POST of a Specialization in pool mode, with
	// AuthorizationScheme and the pod's token. The runner answers:
	//   - 200 SpecializeResult: it serves the function from now on;
	//   - 400 (malformed) or 403 (wrong token): nothing was claimed;
	//   - 409 SpecializeConflict: it took a specialization before;
	//   - 422 ErrorBody: the code (or package) did not load; the pod is
	//     spent and exits LoadFailedExitCode;
	//   - 503 ErrorBody: it could not fetch its package (the fetcher
	//     unreachable, too slow, or answering 5xx or 429): nothing is
	//     known of the code, so this is no load failure, and another pod
	//     may succeed; the pod still accepted a specialization and must
	//     not be reused, so it exits FetchFailedExitCode.
	SpecializePath = "/_/specialize"
)

// Environment variables the runner reads at start.
const (
	EnvFunctionName   = "FAAS_FUNCTION_NAME"
	EnvHandler        = "FAAS_HANDLER"
	EnvCodePath       = "FAAS_CODE_PATH"
	EnvTimeoutSeconds = "FAAS_TIMEOUT_SECONDS"
	EnvConcurrency    = "FAAS_CONCURRENCY"
	EnvPort           = "FAAS_PORT"
	EnvAdminPort      = "FAAS_ADMIN_PORT"
	EnvMaxBodyBytes   = "FAAS_MAX_BODY_BYTES"
	EnvTerminationLog = "FAAS_TERMINATION_LOG"
	// EnvMode is ModeDeployment or ModePool.
	EnvMode = "FAAS_MODE"
	// EnvSpecializeTokenSHA256 is the SHA-256 (hex) of the only token that
	// may specialize a pool pod. The runner removes it from its environment
	// before any function code runs.
	EnvSpecializeTokenSHA256 = "FAAS_SPECIALIZE_TOKEN_SHA256"
	// EnvPackageURL, EnvPackageTicket, EnvPackageDigest and EnvPackageModule
	// are a PackageSource in deployment mode: set, the runner loads the
	// package instead of EnvCodePath. The runner removes EnvPackageTicket
	// from its environment before any function code runs.
	EnvPackageURL    = "FAAS_PACKAGE_URL"
	EnvPackageTicket = "FAAS_PACKAGE_TICKET"
	EnvPackageDigest = "FAAS_PACKAGE_DIGEST"
	EnvPackageModule = "FAAS_PACKAGE_MODULE"
	// EnvPackageDir is where the runner unpacks a package; an emptyDir of
	// the pod. Default DefaultPackageDir.
	EnvPackageDir = "FAAS_PACKAGE_DIR"
)

// Modes of a runner.
const (
	// ModeDeployment loads the code at EnvCodePath at start.
	ModeDeployment = "deployment"
	// ModePool starts without code and waits for one Specialization.
	ModePool = "pool"
)

// Defaults a runner uses for unset variables.
const (
	DefaultHandler        = "handle"
	DefaultTimeoutSeconds = 30
	DefaultConcurrency    = 10
	DefaultMaxBodyBytes   = 6 << 20
	DefaultTerminationLog = "/dev/termination-log"
	DefaultPackageDir     = "/var/faas/package"
	DefaultPackageModule  = "handler"
)

// LoadFailedExitCode is the exit code of a runner whose function code did
// not load; it writes the reason to its termination log first. Any other
// non-zero exit (a crash, an OOM kill) is not a load failure.
const LoadFailedExitCode = 3

// FetchFailedExitCode is the exit code of a runner that could not get its
// package from the fetcher (unreachable, too slow, or answering 5xx or 429,
// after a few tries within its fetch timeout); it writes the reason to its
// termination log first. It says nothing about the code: it is not a load
// failure, and the kubelet restarts the container with its usual backoff.
// A 401, 403, 404 or 422 from the fetcher, or an archive that is refused,
// is a load failure (LoadFailedExitCode).
const FetchFailedExitCode = 4

// AuthorizationScheme prefixes the specialization token in the
// Authorization header: "Bearer <token>".
const AuthorizationScheme = "Bearer "

// Specialization is the body of the one POST to SpecializePath.
type Specialization struct {
	// Function is "<namespace>/<name>".
	Function string `json:"function"`
	Handler  string `json:"handler"`
	// Code is the function's inline source; empty when Package is set.
	Code string `json:"code"`
	// Package is the function's package, loaded instead of Code.
	Package        *PackageSource    `json:"package,omitempty"`
	Env            map[string]string `json:"env"`
	TimeoutSeconds int32             `json:"timeoutSeconds"`
	Concurrency    int32             `json:"concurrency"`
}

// PackageSource tells a runner where to get its function's package: a GET
// of URL with the header "Authorization: Bearer <Ticket>" answers the
// package as an uncompressed tar (PackageMediaType) of regular files and
// directories only, under PackageCodeDir/ and, when it has dependencies,
// PackageDepsDir/. The runner unpacks it into its package directory, puts
// PackageDepsDir then PackageCodeDir first on its module path and imports
// Module, whose Handler answers calls.
type PackageSource struct {
	// URL is the node-local fetcher's URL of the package (FetchPath).
	URL string `json:"url"`
	// Ticket lets the bearer fetch this package only (see FetchPath).
	Ticket string `json:"ticket"`
	// Digest is the package's manifest digest, "sha256:<hex>": what the
	// fetcher verified, for the runner's logs and its stats.
	Digest string `json:"digest"`
	// Module is the module holding the handler, "handler" for handler.py.
	Module string `json:"module"`
}

// The node-local fetcher's contract, which runners call.
const (
	// FetchPath is the path pattern of a package at the fetcher:
	// /v1/packages/<namespace>/<function>/sha256:<hex>. Its ticket is
	// bound to exactly these three values.
	FetchPath = "/v1/packages/"
	// FetcherPort is the port of the fetcher's Service.
	FetcherPort = 8090
	// PackageMediaType is the fetcher's answer's Content-Type.
	PackageMediaType = "application/x-tar"
	// PackageCodeDir and PackageDepsDir are the top-level directories of a
	// package: the function's folder and what its requirements installed.
	PackageCodeDir = "code"
	PackageDepsDir = "deps"
)

// SpecLengthHeader, on a POST to SpecializePath, says the body holds more
// than the Specialization: its first n bytes (the header's decimal value)
// are the Specialization's JSON, and the rest is its Code compiled by the
// platform's compiler (CompilePath), a .pyc as Python writes it for a
// hash-based, checked file (PEP 552): the interpreter's magic number, the
// flags 0b11, the SipHash of the source's UTF-8 bytes
// (importlib.util.source_hash) and the marshalled module code object,
// compiled as "function.py" with optimize 0. A runner loads it in place of
// compiling Code only when magic, flags and hash all match its own
// interpreter and that Code, and its interpreter runs with optimize 0;
// otherwise it compiles Code as without the header. The hash of a
// specialization (SpecializeConflict.SpecHash) covers the first n bytes
// only: compiled or not, it is the same specialization. Runtimes other
// than python are never sent one.
const SpecLengthHeader = "Faas-Spec-Length"

// The compiler: a process of the Python runner's image in the platform's
// namespace that compiles functions' inline code ahead of their first call
// and never runs any, so that a specialization only unmarshals it.
const (
	// CompilePath takes a POST of a function's source (UTF-8, at most
	// CompileMaxBytes) and answers:
	//   - 200 CompiledMediaType: the .pyc SpecLengthHeader describes;
	//   - 422 ErrorBody: the source does not compile (a syntax error, a
	//     NUL, nesting too deep, not UTF-8): the runner will say why;
	//   - 413 ErrorBody: the source is larger than CompileMaxBytes;
	//   - 503 ErrorBody: the compile did not finish in time or ran out of
	//     memory.
	CompilePath = "/v1/compile"
	// CompilerPort is the port of the compiler's Service.
	CompilerPort = 8092
	// CompiledMediaType is the Content-Type of a 200 from CompilePath.
	CompiledMediaType = "application/x-python-code"
	// CompileMaxBytes is the largest source the compiler takes: the
	// Function API's limit of inline code.
	CompileMaxBytes = 786432
)

// SpecializeResult is the 200 answer to a specialization.
type SpecializeResult struct {
	SpecializeMicros int64 `json:"specializeMicros"`
}

// SpecializeConflict is the 409 answer of a pod specialized before: SpecHash
// is the SHA-256 (hex) of the body it accepted, so a gateway that sent the
// very same body knows the pod serves its function.
type SpecializeConflict struct {
	Error    string `json:"error"`
	Status   int    `json:"status"`
	SpecHash string `json:"specHash"`
}

// Stats is what StatsPath answers: the calls a pod saw from every gateway
// replica.
type Stats struct {
	Calls            int64   `json:"calls"`
	InFlight         int     `json:"inFlight"`
	IdleSeconds      float64 `json:"idleSeconds"`
	SpecializeMicros *int64  `json:"specializeMicros,omitempty"`
	// SpecializedCompiled is true when the pod's specialization loaded
	// the compiled code it was sent (SpecLengthHeader) instead of
	// compiling the source.
	SpecializedCompiled bool `json:"specializedCompiled,omitempty"`
}

// ErrorBody is the JSON body of every error a runner (and the gateway)
// answers.
type ErrorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}
