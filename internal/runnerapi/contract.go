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
}

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
}

// ErrorBody is the JSON body of every error a runner (and the gateway)
// answers.
type ErrorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}
