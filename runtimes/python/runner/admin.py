"""The runner's own endpoints, served on the admin port only: readiness,
liveness, stats and the one specialization of a pool pod.

They live on a port of their own so that no call can reach them: on the
call port every path, /_/ready included, is the function's. The admin port
is for the kubelet's probes and the gateway.
"""

import json
import logging

from . import contract
from . import runnerapi as api
from .specialize import SpecializeError

log = logging.getLogger("runner")

_TEXT = {"Content-Type": "text/plain"}


class Admin:
    """Answers the internal paths; an app for server.Listener."""

    def __init__(self, runner):
        self._runner = runner  # the process: calls, specializer, readiness, exit

    def handle(self, head, body, reply):
        path = head.path
        if path == api.READY_PATH:
            if self._runner.ready:
                reply(contract.Response(200, dict(_TEXT), b"ready"))
            else:
                reply(contract.error_response(503, "not ready"))
        elif path == api.HEALTH_PATH:
            reply(contract.Response(200, dict(_TEXT), b"ok"))
        elif path == api.STATS_PATH:
            reply(contract.Response(200, {"Content-Type": "application/json"},
                                    json.dumps(self._runner.stats()).encode("utf-8")))
        elif path == api.SPECIALIZE_PATH:
            if head.method != "POST":
                resp = contract.error_response(405, "specialize with POST")
                resp.headers["Allow"] = "POST"
                reply(resp)
            else:
                self._specialize(head, body, reply)
        else:
            reply(contract.error_response(404, f"no runner endpoint {path}"))

    def _specialize(self, head, body, reply):
        runner = self._runner
        specializer = runner.specializer
        if specializer is None:
            reply(contract.error_response(404, "this pod is not a pool pod"))
            return
        try:
            spec = specializer.claim(head.get("authorization", ""), body, _spec_length(head))
        except SpecializeError as err:
            reply(contract.error_response(err.status, str(err), **err.extra))
            return
        loop = runner.loop

        def outcome(handler, err):  # on the loader thread
            if err is not None:
                loop.call_soon_threadsafe(self._failed, err, reply)
            else:
                loop.call_soon_threadsafe(self._loaded, spec, handler, reply)

        # The user's code runs at import: off the loop, which keeps serving.
        specializer.submit(spec, outcome)

    def _loaded(self, spec, handler, reply):
        runner = self._runner
        runner.calls.become(spec.function, handler, spec.timeout_seconds, spec.concurrency)
        micros = runner.specializer.done(spec)
        log.info("Specialized as function %s in %d us", spec.function, micros)
        reply(contract.Response(200, {"Content-Type": "application/json"},
                                json.dumps({api.SPECIALIZE_MICROS: micros}).encode("utf-8")))

    def _failed(self, err, reply):
        """The user's code ran and failed (422), or its package could not be
        fetched (503): this pod took a specialization and is spent. It says
        why in its termination log and exits with err's code (the load- or
        the fetch-failure code) once the answer is out, so it is replaced,
        never reused."""
        runner = self._runner
        log.error("Specialization failed (%d): %s", err.status, err)
        runner.write_termination_message(str(err))
        resp = contract.error_response(err.status, str(err), **err.extra)
        resp.close = True
        resp.on_sent = lambda: runner.stop(err.exit_code)
        reply(resp)


def _spec_length(head):
    """The SPEC_LENGTH_HEADER's value, or None without one. Sent twice, it
    is both values joined, which is no length: where the JSON ends must not
    depend on which of two values is read (400)."""
    name = api.SPEC_LENGTH_HEADER.lower()
    values = [value for key, value in head.fields if key.lower() == name]
    return ", ".join(values) if values else None
