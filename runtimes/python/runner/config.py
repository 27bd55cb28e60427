"""Runner settings, read once from the environment at start.

The platform sets the variables named in runnerapi. The FAAS_HTTP_* ones
are the runner's own limits and deadlines: the platform leaves them at
their defaults, tests shorten them. Every timeout the runner has is here.
"""

import dataclasses
import os

from . import runnerapi as api

#: Runner-local variables: not part of the platform contract.
ENV_HOST = "FAAS_HTTP_HOST"
ENV_MAX_CONNECTIONS = "FAAS_HTTP_MAX_CONNECTIONS"
ENV_ADMIN_MAX_CONNECTIONS = "FAAS_HTTP_ADMIN_MAX_CONNECTIONS"
ENV_HEADER_TIMEOUT = "FAAS_HTTP_HEADER_TIMEOUT_SECONDS"
ENV_BODY_TIMEOUT = "FAAS_HTTP_BODY_TIMEOUT_SECONDS"
ENV_IDLE_TIMEOUT = "FAAS_HTTP_IDLE_TIMEOUT_SECONDS"
ENV_SEND_TIMEOUT = "FAAS_HTTP_SEND_TIMEOUT_SECONDS"
ENV_LINGER = "FAAS_HTTP_LINGER_SECONDS"
ENV_DRAIN_GRACE = "FAAS_HTTP_DRAIN_GRACE_SECONDS"
ENV_MAX_REQUEST_LINE = "FAAS_HTTP_MAX_REQUEST_LINE_BYTES"
ENV_MAX_HEADER_BYTES = "FAAS_HTTP_MAX_HEADER_BYTES"
ENV_MAX_HEADER_COUNT = "FAAS_HTTP_MAX_HEADER_COUNT"
ENV_PACKAGE_TIMEOUT = "FAAS_PACKAGE_FETCH_TIMEOUT_SECONDS"
ENV_PACKAGE_MAX_BYTES = "FAAS_PACKAGE_MAX_BYTES"
ENV_PACKAGE_MAX_ENTRIES = "FAAS_PACKAGE_MAX_ENTRIES"
ENV_PACKAGE_FETCH_ATTEMPTS = "FAAS_PACKAGE_FETCH_ATTEMPTS"
ENV_PACKAGE_FETCH_BACKOFF = "FAAS_PACKAGE_FETCH_BACKOFF_SECONDS"

LOCAL_ENV = (ENV_HOST, ENV_MAX_CONNECTIONS, ENV_ADMIN_MAX_CONNECTIONS, ENV_HEADER_TIMEOUT,
             ENV_BODY_TIMEOUT, ENV_IDLE_TIMEOUT, ENV_SEND_TIMEOUT, ENV_LINGER, ENV_DRAIN_GRACE,
             ENV_MAX_REQUEST_LINE, ENV_MAX_HEADER_BYTES, ENV_MAX_HEADER_COUNT,
             ENV_PACKAGE_TIMEOUT, ENV_PACKAGE_MAX_BYTES, ENV_PACKAGE_MAX_ENTRIES, ENV_PACKAGE_FETCH_ATTEMPTS,
             ENV_PACKAGE_FETCH_BACKOFF)


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything the runner is told by its pod."""

    function_name: str = ""
    code_path: str = "/var/faas/code/function.py"
    handler: str = api.DEFAULT_HANDLER
    #: A call running longer is answered 504.
    timeout_seconds: float = float(api.DEFAULT_TIMEOUT_SECONDS)
    #: Handler threads: calls that run at once.
    concurrency: int = api.DEFAULT_CONCURRENCY
    port: int = api.CALL_PORT
    admin_port: int = api.ADMIN_PORT
    max_body_bytes: int = api.DEFAULT_MAX_BODY_BYTES
    termination_log: str = api.DEFAULT_TERMINATION_LOG
    #: "deployment": load code_path (or the package) at start; "pool": start
    #: without code and wait for one specialization from the gateway.
    mode: str = api.MODE_DEPLOYMENT
    #: SHA-256 (hex) of the only token that may specialize this pod. The
    #: entry point takes it out of the process environment before anything
    #: else runs and hands it to from_env in a copy (see environ.py).
    specialize_token_sha256: str = ""
    #: A package to load instead of code_path (deployment mode): the
    #: fetcher's URL, the ticket that opens it, its digest (for messages),
    #: the module holding the handler. The ticket is taken out of the
    #: process environment like the token's hash.
    package_url: str = ""
    package_ticket: str = dataclasses.field(default="", repr=False)
    package_digest: str = ""
    package_module: str = api.DEFAULT_PACKAGE_MODULE
    #: Where a package is unpacked (either mode): an emptyDir of the pod.
    package_dir: str = api.DEFAULT_PACKAGE_DIR

    #: Address both ports bind; "" is every IPv4 and IPv6 address.
    host: str = ""
    #: Open connections per port; at the limit, a new connection closes
    #: the longest-idle one that has no request in progress, or is refused.
    max_connections: int = 512
    admin_max_connections: int = 64
    #: From accept, or from the first byte of a later request on a kept-alive
    #: connection, to the end of the request head (slowloris).
    header_timeout_seconds: float = 10.0
    #: From the end of the head to the end of the body.
    body_timeout_seconds: float = 60.0
    #: A kept-alive connection with no request for this long is closed; above
    #: the gateway's 60 s so that the gateway, not the runner, closes it.
    idle_timeout_seconds: float = 75.0
    #: A peer that reads nothing of an answer for this long is dropped.
    send_timeout_seconds: float = 30.0
    #: After an answer that closes the connection, how long unread input is
    #: still read and dropped so that the peer gets the answer, not a reset.
    linger_seconds: float = 2.0
    #: On SIGTERM, calls in flight get timeout_seconds plus this to finish.
    drain_grace_seconds: float = 5.0
    max_request_line_bytes: int = 8192
    #: The whole head: request line and header fields (and chunk trailers).
    max_header_bytes: int = 65536
    max_header_count: int = 128
    #: A package's whole fetch and unpack, from connect to its last file,
    #: every try included: 100 MiB from a node-local fetcher takes about a
    #: second.
    package_timeout_seconds: float = 60.0
    #: Tries of a deployment-mode runner's package fetch when the fetcher
    #: cannot be reached or answers 5xx or 429 (a fetcher restarting), the
    #: first one included; then it exits runnerapi.FETCH_FAILED_EXIT_CODE and
    #: the kubelet restarts it with backoff. A pool pod tries once and
    #: answers 503: the gateway then tries another pod within its own
    #: deadline.
    package_fetch_attempts: int = 4
    #: The wait before the second try, doubled before each later one.
    package_fetch_backoff_seconds: float = 0.5
    #: Bytes of regular files, and files plus directories, of one package.
    package_max_bytes: int = 100 << 20
    package_max_entries: int = 50_000

    @classmethod
    def from_env(cls, env=None):
        """Builds a Config from FAAS_* variables; unset or empty ones keep
        their defaults. ValueError names a variable that does not parse."""
        env = os.environ if env is None else env
        d = cls()

        def get(name, default, kind=str):
            raw = env.get(name, "")
            if raw == "":
                return default
            try:
                return kind(raw)
            except ValueError as err:
                raise ValueError(f"{name}={raw!r} is not a valid {kind.__name__}") from err

        return cls(
            function_name=get(api.ENV_FUNCTION_NAME, d.function_name),
            code_path=get(api.ENV_CODE_PATH, d.code_path),
            handler=get(api.ENV_HANDLER, d.handler),
            timeout_seconds=get(api.ENV_TIMEOUT_SECONDS, d.timeout_seconds, float),
            concurrency=max(1, get(api.ENV_CONCURRENCY, d.concurrency, int)),
            port=get(api.ENV_PORT, d.port, int),
            admin_port=get(api.ENV_ADMIN_PORT, d.admin_port, int),
            max_body_bytes=get(api.ENV_MAX_BODY_BYTES, d.max_body_bytes, int),
            termination_log=get(api.ENV_TERMINATION_LOG, d.termination_log),
            mode=get(api.ENV_MODE, d.mode),
            specialize_token_sha256=get(api.ENV_SPECIALIZE_TOKEN_SHA256, d.specialize_token_sha256),
            package_url=get(api.ENV_PACKAGE_URL, d.package_url),
            package_ticket=get(api.ENV_PACKAGE_TICKET, d.package_ticket),
            package_digest=get(api.ENV_PACKAGE_DIGEST, d.package_digest),
            package_module=get(api.ENV_PACKAGE_MODULE, d.package_module),
            package_dir=get(api.ENV_PACKAGE_DIR, d.package_dir),
            host=get(ENV_HOST, d.host),
            max_connections=max(1, get(ENV_MAX_CONNECTIONS, d.max_connections, int)),
            admin_max_connections=max(1, get(ENV_ADMIN_MAX_CONNECTIONS, d.admin_max_connections, int)),
            header_timeout_seconds=get(ENV_HEADER_TIMEOUT, d.header_timeout_seconds, float),
            body_timeout_seconds=get(ENV_BODY_TIMEOUT, d.body_timeout_seconds, float),
            idle_timeout_seconds=get(ENV_IDLE_TIMEOUT, d.idle_timeout_seconds, float),
            send_timeout_seconds=get(ENV_SEND_TIMEOUT, d.send_timeout_seconds, float),
            linger_seconds=get(ENV_LINGER, d.linger_seconds, float),
            drain_grace_seconds=get(ENV_DRAIN_GRACE, d.drain_grace_seconds, float),
            max_request_line_bytes=get(ENV_MAX_REQUEST_LINE, d.max_request_line_bytes, int),
            max_header_bytes=get(ENV_MAX_HEADER_BYTES, d.max_header_bytes, int),
            max_header_count=get(ENV_MAX_HEADER_COUNT, d.max_header_count, int),
            package_timeout_seconds=get(ENV_PACKAGE_TIMEOUT, d.package_timeout_seconds, float),
            package_max_bytes=get(ENV_PACKAGE_MAX_BYTES, d.package_max_bytes, int),
            package_max_entries=get(ENV_PACKAGE_MAX_ENTRIES, d.package_max_entries, int),
            package_fetch_attempts=get(ENV_PACKAGE_FETCH_ATTEMPTS, d.package_fetch_attempts, int),
            package_fetch_backoff_seconds=get(ENV_PACKAGE_FETCH_BACKOFF, d.package_fetch_backoff_seconds, float),
        )

    def validate(self):
        """ValueError for a setting the runner cannot serve with."""
        if self.mode not in api.MODES:
            raise ValueError(f"{api.ENV_MODE}={self.mode!r} is not one of {', '.join(api.MODES)}")
        for name in ("timeout_seconds", "header_timeout_seconds", "body_timeout_seconds",
                     "idle_timeout_seconds", "send_timeout_seconds", "package_timeout_seconds",
                     "package_max_bytes", "package_max_entries"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.package_fetch_attempts < 1:
            raise ValueError("package_fetch_attempts must be at least 1")
        if self.package_fetch_backoff_seconds < 0:
            raise ValueError("package_fetch_backoff_seconds must not be negative")
        if self.max_header_bytes < self.max_request_line_bytes:
            raise ValueError("max_header_bytes must be at least max_request_line_bytes")
        return self

    def package_source(self):
        """The package a deployment-mode runner loads, or None for code_path."""
        if not self.package_url:
            return None
        from . import package  # pylint: disable=import-outside-toplevel  # see package_settings
        return package.Source(url=self.package_url, ticket=self.package_ticket, digest=self.package_digest,
                              module=self.package_module or api.DEFAULT_PACKAGE_MODULE)

    def package_settings(self, attempts=1):
        """Where and within which bounds packages are unpacked; a fetch that
        fails for a transient reason is tried attempts times in all."""
        # Imported by the runners that may load a package only: http.client
        # and tarfile are 14 ms of a start with inline code.
        from . import package  # pylint: disable=import-outside-toplevel
        return package.Settings(dir=self.package_dir, timeout_seconds=self.package_timeout_seconds,
                                max_bytes=self.package_max_bytes, max_entries=self.package_max_entries,
                                fetch_attempts=attempts, retry_backoff_seconds=self.package_fetch_backoff_seconds)
