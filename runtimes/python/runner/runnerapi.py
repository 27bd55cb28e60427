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
# A PackageSource in deployment mode: with ENV_PACKAGE_URL set, the runner
# loads the package instead of ENV_CODE_PATH. ENV_PACKAGE_TICKET is taken
# out of the environment before any function code runs.
ENV_PACKAGE_URL = "FAAS_PACKAGE_URL"
ENV_PACKAGE_TICKET = "FAAS_PACKAGE_TICKET"
ENV_PACKAGE_DIGEST = "FAAS_PACKAGE_DIGEST"
ENV_PACKAGE_MODULE = "FAAS_PACKAGE_MODULE"
# Where the runner unpacks a package: an emptyDir of the pod.
ENV_PACKAGE_DIR = "FAAS_PACKAGE_DIR"

MODE_DEPLOYMENT = "deployment"
MODE_POOL = "pool"
MODES = (MODE_DEPLOYMENT, MODE_POOL)

DEFAULT_HANDLER = "handle"
DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_CONCURRENCY = 10
DEFAULT_MAX_BODY_BYTES = 6 << 20
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
DEFAULT_CODE_PATH = "/var/faas/code/function.py"
DEFAULT_PACKAGE_DIR = "/var/faas/package"
DEFAULT_PACKAGE_MODULE = "handler"

#: The exit code of a runner whose code did not load (at start, or a 422
#: specialization). The operator reports only this code as LoadFailed; a
#: crash or an OOM kill is not a load failure.
LOAD_FAILED_EXIT_CODE = 3

#: The exit code of a runner that could not get its package from the
#: fetcher (unreachable, too slow, 5xx or 429, after its tries), or of a
#: pool pod that answered its specialization 503 for that reason. Not a
#: load failure: it says nothing about the code; the kubelet restarts the
#: container with backoff.
FETCH_FAILED_EXIT_CODE = 4

#: Prefix of the specialization token in the Authorization header, and of
#: a package's ticket in the request to the fetcher.
AUTHORIZATION_SCHEME = "Bearer "

# The node-local fetcher: a GET of a PackageSource's url answers the package
# as an uncompressed tar of regular files and directories under
# PACKAGE_CODE_DIR/ and PACKAGE_DEPS_DIR/.
FETCH_PATH = "/v1/packages/"
FETCHER_PORT = 8090
PACKAGE_MEDIA_TYPE = "application/x-tar"
PACKAGE_CODE_DIR = "code"
PACKAGE_DEPS_DIR = "deps"

# The compiler (python3 -m runner.compiler): POST COMPILE_PATH with a
# function's source answers a PEP 552 checked .pyc of it (COMPILED_MEDIA_TYPE),
# which the gateway sends after a specialization's JSON, whose length
# SPEC_LENGTH_HEADER gives.
SPEC_LENGTH_HEADER = "Faas-Spec-Length"
COMPILE_PATH = "/v1/compile"
COMPILER_PORT = 8092
COMPILED_MEDIA_TYPE = "application/x-python-code"
COMPILE_MAX_BYTES = 786432

# JSON field names.
# The body of every error answer.
ERROR_ERROR = "error"
ERROR_STATUS = "status"
# /_/stats.
STATS_CALLS = "calls"
STATS_IN_FLIGHT = "inFlight"
STATS_IDLE_SECONDS = "idleSeconds"
STATS_SPECIALIZE_MICROS = "specializeMicros"
STATS_SPECIALIZED_COMPILED = "specializedCompiled"
# The body of a POST to /_/specialize.
SPEC_FUNCTION = "function"
SPEC_HANDLER = "handler"
SPEC_CODE = "code"
SPEC_PACKAGE = "package"
SPEC_ENV = "env"
SPEC_TIMEOUT_SECONDS = "timeoutSeconds"
SPEC_CONCURRENCY = "concurrency"
# Its package object (a PackageSource), set instead of code.
PACKAGE_URL = "url"
PACKAGE_TICKET = "ticket"
PACKAGE_DIGEST = "digest"
PACKAGE_MODULE = "module"
# Its 200 answer, and the extra field of its 409 answer.
SPECIALIZE_MICROS = "specializeMicros"
SPECIALIZE_CONFLICT_SPEC_HASH = "specHash"
