"""The runner contract, as the platform defines it.

The one source is Go (internal/runnerapi), rendered to
runtimes/contract/runner.json; tests/test_contract_file.py fails when a name
or value here drifts from that file. Nothing here is tunable: these are the
names and values both sides must agree on.
"""

# Ports: calls on one, the runner's own endpoints on the other, so that no
# call path can reach an internal endpoint.
CALL_PORT = 8080
ADMIN_PORT = 8081

# Internal paths, served on the admin port only.
READY_PATH = "/_/ready"
HEALTH_PATH = "/_/health"
STATS_PATH = "/_/stats"
SPECIALIZE_PATH = "/_/specialize"

# Environment variables the platform sets.
ENV_FUNCTION_NAME = "FAAS_FUNCTION_NAME"
ENV_HANDLER = "FAAS_HANDLER"
ENV_CODE_PATH = "FAAS_CODE_PATH"
ENV_TIMEOUT_SECONDS = "FAAS_TIMEOUT_SECONDS"
ENV_CONCURRENCY = "FAAS_CONCURRENCY"
ENV_PORT = "FAAS_PORT"
ENV_ADMIN_PORT = "FAAS_ADMIN_PORT"
ENV_MAX_BODY_BYTES = "FAAS_MAX_BODY_BYTES"
ENV_TERMINATION_LOG = "FAAS_TERMINATION_LOG"
ENV_MODE = "FAAS_MODE"
ENV_SPECIALIZE_TOKEN_SHA256 = "FAAS_SPECIALIZE_TOKEN_SHA256"

MODE_DEPLOYMENT = "deployment"
MODE_POOL = "pool"
MODES = (MODE_DEPLOYMENT, MODE_POOL)

DEFAULT_HANDLER = "handle"
DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_CONCURRENCY = 10
DEFAULT_MAX_BODY_BYTES = 6 << 20
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
DEFAULT_CODE_PATH = "/var/faas/code/function.py"

#: The exit code of a runner whose code did not load (at start, or a 422
#: specialization). The operator reports only this code as LoadFailed; a
#: crash or an OOM kill is not a load failure.
LOAD_FAILED_EXIT_CODE = 3

#: Prefix of the specialization token in the Authorization header.
AUTHORIZATION_SCHEME = "Bearer "

# JSON field names.
# The body of every error answer.
ERROR_ERROR = "error"
ERROR_STATUS = "status"
# /_/stats.
STATS_CALLS = "calls"
STATS_IN_FLIGHT = "inFlight"
STATS_IDLE_SECONDS = "idleSeconds"
STATS_SPECIALIZE_MICROS = "specializeMicros"
# The body of a POST to /_/specialize.
SPEC_FUNCTION = "function"
SPEC_HANDLER = "handler"
SPEC_CODE = "code"
SPEC_ENV = "env"
SPEC_TIMEOUT_SECONDS = "timeoutSeconds"
SPEC_CONCURRENCY = "concurrency"
# Its 200 answer, and the extra field of its 409 answer.
SPECIALIZE_MICROS = "specializeMicros"
SPECIALIZE_CONFLICT_SPEC_HASH = "specHash"
