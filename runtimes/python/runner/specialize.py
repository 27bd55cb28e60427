"""Pool mode: one specialization, over HTTP, from the gateway only.

A pool pod starts with no code. The gateway claims it by POSTing the
function to /_/specialize with the pod's own token: the first valid request
wins and every later one is refused (409), so the specialization itself is
the atomic claim. The pod knows only the SHA-256 of its token, so neither
the function it then runs nor anyone else can derive a token that opens
another pod.
"""

import hashlib
import hmac
import json
import os
import threading
import time

from . import loader

SPECIALIZE_PATH = "/_/specialize"


class SpecializeError(Exception):
    """Refused; status is the HTTP answer, extra goes into its JSON body."""

    def __init__(self, status, message, **extra):
        super().__init__(message)
        self.status = status
        self.extra = extra


class Specializer:
    """Guards the one specialization of a pool pod."""

    def __init__(self, token_sha256):
        self._token_sha256 = token_sha256
        self._lock = threading.Lock()
        self._state = "idle"  # idle -> specializing -> specialized | failed; guarded by _lock
        self._spec_hash = ""  # SHA-256 of the accepted specialization; guarded by _lock
        self.micros = None  # how long the last specialization took

    @property
    def idle(self):
        with self._lock:
            return self._state == "idle"

    def specialize(self, runner, authorization, body):
        """Loads the function in body into runner; returns the time it took
        in microseconds. Raises SpecializeError."""
        if not self._token_sha256:
            raise SpecializeError(404, "this pod is not a pool pod")
        token = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else ""
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        if not token or not hmac.compare_digest(digest, self._token_sha256):
            raise SpecializeError(403, "not allowed to specialize this pod")
        spec_hash = hashlib.sha256(body).hexdigest()
        with self._lock:
            if self._state != "idle":
                # The hash lets a second gateway replica that asked for the
                # very same function know the pod serves it already.
                raise SpecializeError(409, "this pod is already specialized", specHash=self._spec_hash)
            self._state = "specializing"
            self._spec_hash = spec_hash
        start = time.perf_counter_ns()
        try:
            spec = _parse(body)
            os.environ.update(spec["env"])
            handler = loader.load_handler(spec["code"], spec["handler"])
        except (SpecializeError, loader.LoadError) as err:
            with self._lock:
                self._state = "failed"
            if isinstance(err, SpecializeError):
                raise
            raise SpecializeError(422, str(err)) from err
        runner.become(spec["function"], handler, spec["timeoutSeconds"], spec["concurrency"])
        self.micros = (time.perf_counter_ns() - start) // 1000
        with self._lock:
            self._state = "specialized"
        return self.micros


def _parse(body):
    try:
        spec = json.loads(body)
    except ValueError as err:
        raise SpecializeError(400, f"specialization is not valid JSON: {err}") from err
    if not isinstance(spec, dict) or not isinstance(spec.get("code"), str):
        raise SpecializeError(400, "specialization needs a JSON object with code")
    env = spec.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise SpecializeError(400, "env must map names to strings")
    return {
        "function": str(spec.get("function", "")),
        "handler": str(spec.get("handler") or "handle"),
        "code": spec["code"],
        "env": env,
        "timeoutSeconds": float(spec.get("timeoutSeconds") or 30),
        "concurrency": max(1, int(spec.get("concurrency") or 10)),
    }
