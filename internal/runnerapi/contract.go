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
	// SpecializePath takes one POST of a Specialization in pool mode.
	SpecializePath = "/_/specialize"
)

// CompilePath takes a POST of a CompileRequest on the admin port of an idle
// pool pod and answers a CompileResult: the code compiled, never run, by
// the runner's own trusted code, for a later Specialization's Bytecode. It
// takes the pod's specialization token, answers 409 once the pod was
// specialized (its answers could then come from a function's code) and
// 422 for code that does not compile. It is optional: a runner without
// ahead-of-time compilation answers 404, and the gateway sends no
// bytecode to its runtime.
const CompilePath = "/_/compile"

// MaxCodeLength bounds the code of a CompileRequest, in characters: the
// Function API's own bound on spec.code.
const MaxCodeLength = 786432

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
)

// LoadFailedExitCode is the exit code of a runner whose function code did
// not load; it writes the reason to its termination log first. Any other
// non-zero exit (a crash, an OOM kill) is not a load failure.
const LoadFailedExitCode = 3

// AuthorizationScheme prefixes the specialization token in the
// Authorization header: "Bearer <token>".
const AuthorizationScheme = "Bearer "

// Specialization is the body of the one POST to SpecializePath.
type Specialization struct {
	// Function is "<namespace>/<name>".
	Function       string            `json:"function"`
	Handler        string            `json:"handler"`
	Code           string            `json:"code"`
	Env            map[string]string `json:"env"`
	TimeoutSeconds int32             `json:"timeoutSeconds"`
	Concurrency    int32             `json:"concurrency"`
	// Bytecode is Code compiled ahead of time (a CompileResult's), which
	// a runner uses instead of compiling Code when BytecodeTag is its own;
	// Code still comes, for tracebacks and as the fallback. Both are
	// optional and the last members of the body, and the spec hash leaves
	// them out (see SpecHash), so a pod's specialization is the same
	// with or without them. Written by AttachBytecode.
	Bytecode    []byte `json:"bytecode,omitempty"`
	BytecodeTag string `json:"bytecodeTag,omitempty"`
}

// CompileRequest is the body of a POST to CompilePath.
type CompileRequest struct {
	Code string `json:"code"`
	// Handler is optional; it does not change the bytecode.
	Handler string `json:"handler,omitempty"`
}

// CompileResult is the 200 answer to a CompileRequest: Bytecode is valid
// for a runner whose own tag is Tag (for Python: importlib's magic number
// in hex, the implementation's cache tag and the optimization level).
type CompileResult struct {
	Tag      string `json:"tag"`
	Bytecode []byte `json:"bytecode"`
}

// SpecializeResult is the 200 answer to a specialization.
type SpecializeResult struct {
	SpecializeMicros int64 `json:"specializeMicros"`
}

// SpecializeConflict is the 409 answer of a pod specialized before: SpecHash
// is the SHA-256 (hex) of the body it accepted, without its bytecode members
// (SpecHash), so a gateway that sent the very same specialization knows the
// pod serves its function.
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
}

// ErrorBody is the JSON body of every error a runner (and the gateway)
// answers.
type ErrorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}
