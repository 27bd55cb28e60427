"""Pool mode: one specialization, over HTTP, from the gateway only.

A pool pod starts with no code. The gateway claims it by POSTing the
function to /_/specialize (admin port) with the pod's own token: the first
valid request wins and every later one is refused (409), so the
specialization itself is the atomic claim. The pod knows only the SHA-256
of its token, so neither the function it then runs nor anyone else can
derive a token that opens another pod. A malformed body (400) or a wrong
token (403) claims nothing; code that then fails to load (422) spends the
pod, which exits with the load-failure code so that it is replaced.

A specialization carries inline code or a package (package.Source: the
node's fetcher's URL and the ticket for it), which the pod fetches, unpacks
and imports on the loader thread; a package that the fetcher refuses
(4xx), that is refused or cannot be unpacked or imported is a 422 like code
that does not load. A package that could not be got (the fetcher
unreachable, too slow, 5xx or 429: loader.FetchError) says nothing about
the code: it is answered 503, tried once so that the gateway can still try
another pod, and the pod, which accepted a specialization, exits with the
fetch-failure code and is never reused. The 409's specHash is the SHA-256
of the whole accepted body, package included.
"""

import hashlib
import hmac
import json
import os
import queue
import threading
import time

from . import loader
from . import pyc as pycfile
from . import runnerapi as api


class SpecializeError(Exception):
    """Refused; status is the HTTP answer, extra goes into its JSON body.
    exit_code is the pod's once it answered, when the refusal spent it."""

    def __init__(self, status, message, exit_code=api.LOAD_FAILED_EXIT_CODE, **extra):
        super().__init__(message)
        self.status = status
        self.exit_code = exit_code
        self.extra = extra


class Specialization:
    """A parsed, claimed specialization: what the pod is to become."""

    __slots__ = ("function", "handler_name", "code", "package", "env", "timeout_seconds", "concurrency", "started_ns",
                 "pyc")

    def __init__(self, function, handler_name, code, env, timeout_seconds, concurrency, package_source=None):
        self.function = function
        self.handler_name = handler_name
        self.code = code
        #: A package.Source to load instead of code, or None.
        self.package = package_source
        self.env = env
        self.timeout_seconds = timeout_seconds
        self.concurrency = concurrency
        #: The code compiled by the platform's compiler, a .pyc (pyc.py), or None.
        self.pyc = None
        self.started_ns = time.perf_counter_ns()


class Specializer:
    """Guards the one specialization of a pool pod. claim() runs on the
    event loop; load() on a thread of its own, as the user's code runs at
    import and may take its time.

    That thread is started with the pod (start()), not when the
    specialization arrives: starting a thread on the loop blocks the loop
    in Thread.start() until the new thread has run, and the new thread
    holds the GIL while it compiles, so the loop's reply waited for the
    interpreter's 5 ms switch interval or for the whole compile (profile:
    Thread.start() returned 1.3-6.7 ms after the claim for 1 KiB of code,
    103 ms for 100 KiB). The waiting thread costs one idle stack."""

    def __init__(self, token_sha256, packages=None):
        # Imported with a pool pod, before its start-up heap is frozen and
        # off a specialization's clock; a deployment-mode runner with inline
        # code never pays for it.
        from . import package  # pylint: disable=import-outside-toplevel
        self._package = package
        self._token_sha256 = token_sha256
        self._packages = packages or package.Settings()  # where and within which bounds to unpack
        self._lock = threading.Lock()
        self._state = "idle"  # idle -> specializing -> specialized | failed; guarded by _lock
        self._failure = ""  # why the specialization did not load; guarded by _lock
        self._failure_status = 422  # its answer: 422, or 503 for a package not fetched; guarded by _lock
        self._spec_hash = ""  # SHA-256 of the accepted specialization; guarded by _lock
        self.micros = None  # how long the specialization took, once done
        self.compiled = False  # the specialization loaded the .pyc it was sent
        # The claimed spec and the callback for its outcome, for the loader
        # thread; at most one item ever, as claim() admits one spec.
        self._claimed = queue.SimpleQueue()

    def start(self):
        """Starts the loader thread, which waits for the claimed spec."""
        threading.Thread(target=self._loader, name="specialize", daemon=True).start()

    def submit(self, spec, outcome):
        """Loads spec on the loader thread; outcome(handler, error) is
        called there, with exactly one of them set."""
        self._claimed.put((spec, outcome))

    def close(self):
        """Ends the loader thread if no specialization came."""
        self._claimed.put(None)

    def _loader(self):
        item = self._claimed.get()
        if item is None:
            return
        spec, outcome = item
        try:
            handler = self.load(spec)
        except SpecializeError as err:
            outcome(None, err)
        except BaseException as err:  # pylint: disable=broad-except
            # KeyboardInterrupt or any BaseException the module raised at
            # import: the pod is spent and the claim must still be answered.
            failure = f"the function's module raised {type(err).__name__} at import: {err}"
            with self._lock:
                self._state = "failed"
                self._failure = failure
                self._failure_status = 422
            outcome(None, SpecializeError(422, failure))
        else:
            outcome(handler, None)

    @property
    def idle(self):
        with self._lock:
            return self._state == "idle"

    def claim(self, authorization, body, spec_length=None):
        """Checks the token, parses body and claims the pod for it; returns
        the Specialization. Raises SpecializeError (404, 403, 400, 409).
        spec_length is the SPEC_LENGTH_HEADER's value, if sent: the body's
        first spec_length bytes are the specialization, the rest its
        code's .pyc; the specialization's hash covers the former only."""
        if not self._token_sha256:
            raise SpecializeError(404, "this pod is not a pool pod")
        scheme = api.AUTHORIZATION_SCHEME
        token = authorization[len(scheme):] if authorization.startswith(scheme) else ""
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        if not token or not hmac.compare_digest(digest, self._token_sha256):
            raise SpecializeError(403, "not allowed to specialize this pod")
        pyc = None
        if spec_length is not None:
            if not (spec_length.isascii() and spec_length.isdigit() and len(spec_length) <= 10
                    and 0 < int(spec_length) <= len(body)):
                raise SpecializeError(400, f"{api.SPEC_LENGTH_HEADER} must be the length of the specialization "
                                           f"within the body's {len(body)} bytes")
            n = int(spec_length)
            body, pyc = body[:n], body[n:]
        spec_hash = hashlib.sha256(body).hexdigest()
        with self._lock:
            if self._state == "failed":
                # Never "already specialized" for a spec that did not load:
                # a second gateway replica must learn it cannot load either
                # (or, 503, that this pod could not fetch it).
                raise SpecializeError(self._failure_status, self._failure)
            if self._state != "idle":
                # The hash lets a second gateway replica that asked for the
                # very same function know the pod serves it already.
                raise SpecializeError(409, "this pod is already specialized",
                                      **{api.SPECIALIZE_CONFLICT_SPEC_HASH: self._spec_hash})
        spec = parse(body)
        spec.pyc = pyc or None
        with self._lock:
            if self._state != "idle":
                raise SpecializeError(409, "this pod is already specialized",
                                      **{api.SPECIALIZE_CONFLICT_SPEC_HASH: self._spec_hash})
            self._state = "specializing"
            self._spec_hash = spec_hash
        return spec

    def load(self, spec):
        """Loads the claimed spec's code or package; returns its handler.
        Raises SpecializeError 422 (and the pod is spent) when it does not
        load: code that fails, or a package that is refused or cannot be
        unpacked or imported; 503 (the pod is spent too) when the package
        could not be fetched."""
        os.environ.update(spec.env)
        # The collector stays on while the module runs, as in a Deployment
        # pod: a module that makes cyclic garbage at import must not grow
        # without bound here (turning it off saved ~0.5 ms of a 100 KiB
        # load; the frozen start-up heap already keeps collections short).
        try:
            if spec.package is not None:
                # A package that failed on its way in (half unpacked, its
                # modules half imported) leaves the pod spent like bad code.
                return self._package.load(spec.package, spec.handler_name, self._packages)
            code = pycfile.loads(spec.code, spec.pyc) if spec.pyc is not None else None
            self.compiled = code is not None
            return loader.load_handler(spec.code, spec.handler_name, code=code)
        except loader.FetchError as err:
            with self._lock:
                self._state = "failed"
                self._failure = str(err)
                self._failure_status = 503
            raise SpecializeError(503, str(err), exit_code=api.FETCH_FAILED_EXIT_CODE) from err
        except loader.LoadError as err:
            with self._lock:
                self._state = "failed"
                self._failure = str(err)
                self._failure_status = 422
            raise SpecializeError(422, str(err)) from err

    def done(self, spec):
        """Marks the pod specialized; returns how long it took in µs."""
        self.micros = max(1, (time.perf_counter_ns() - spec.started_ns) // 1000)
        with self._lock:
            self._state = "specialized"
        return self.micros


def parse(body):
    """The Specialization in a request body; SpecializeError 400 if it is
    not one."""
    try:
        spec = json.loads(body)
    except ValueError as err:
        raise SpecializeError(400, f"specialization is not valid JSON: {err}") from err
    if not isinstance(spec, dict) or not isinstance(spec.get(api.SPEC_CODE), str):
        raise SpecializeError(400, "specialization needs a JSON object with code")
    source = parse_package(spec.get(api.SPEC_PACKAGE))
    if source is not None and spec[api.SPEC_CODE]:
        raise SpecializeError(400, "specialization has both code and a package")
    env = spec.get(api.SPEC_ENV)
    env = {} if env is None else env
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise SpecializeError(400, "env must map names to strings")
    if any(not k or "=" in k or "\0" in k or "\0" in v for k, v in env.items()):
        raise SpecializeError(400, "env has a name or value the environment cannot hold")
    try:
        timeout = float(spec.get(api.SPEC_TIMEOUT_SECONDS) or api.DEFAULT_TIMEOUT_SECONDS)
        concurrency = max(1, int(spec.get(api.SPEC_CONCURRENCY) or api.DEFAULT_CONCURRENCY))
    except (TypeError, ValueError) as err:
        raise SpecializeError(400, f"bad timeoutSeconds or concurrency: {err}") from err
    if not timeout > 0:
        raise SpecializeError(400, "timeoutSeconds must be positive")
    return Specialization(str(spec.get(api.SPEC_FUNCTION, "")), str(spec.get(api.SPEC_HANDLER) or api.DEFAULT_HANDLER),
                          spec[api.SPEC_CODE], env, timeout, concurrency, source)


def parse_package(value):
    """The package.Source of a specialization's package object, or None
    without one; SpecializeError 400 if it is not one. Whether its URL and
    module are usable is the load's to find (422: every pod would fail)."""
    if value is None:
        return None
    from . import package  # pylint: disable=import-outside-toplevel  # imported by Specializer already
    if not isinstance(value, dict) or not isinstance(value.get(api.PACKAGE_URL), str) or not value[api.PACKAGE_URL]:
        raise SpecializeError(400, "package needs a JSON object with url")
    fields = {}
    for key in (api.PACKAGE_TICKET, api.PACKAGE_DIGEST, api.PACKAGE_MODULE):
        field = value.get(key)
        if field is not None and not isinstance(field, str):
            raise SpecializeError(400, f"package {key} must be a string")
        fields[key] = field or ""
    return package.Source(url=value[api.PACKAGE_URL], ticket=fields[api.PACKAGE_TICKET],
                          digest=fields[api.PACKAGE_DIGEST],
                          module=fields[api.PACKAGE_MODULE] or api.DEFAULT_PACKAGE_MODULE)
