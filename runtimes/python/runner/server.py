"""The HTTP/1.1 server that answers calls with the loaded handler.

Paths under /_/ belong to the runner (readiness, liveness); every other
path is a call. Calls run on a bounded pool of worker threads so that a
handler running past its timeout is answered 504 while the runner lives on.
"""

import concurrent.futures
import dataclasses
import http.server
import json
import logging
import os
import socket
import threading
import time

from . import contract
from .specialize import SPECIALIZE_PATH, SpecializeError, Specializer

log = logging.getLogger("runner")

READY_PATH = "/_/ready"
HEALTH_PATH = "/_/health"
STATS_PATH = "/_/stats"


class Runner:
    """The loaded function, the worker pool and the drain state."""

    def __init__(self, config, handler=None):
        self.config = config
        self.handler = handler  # set once; None until code is loaded
        self.specializer = Specializer(config.specialize_token_sha256) if config.mode == "pool" else None
        self.draining = False
        self._workers = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.concurrency, thread_name_prefix="handler")
        self._lock = threading.Condition()
        self._in_flight = 0  # guarded by _lock
        self._idle = set()  # keep-alive sockets waiting for a request; guarded by _lock
        self._calls = 0  # function calls started; guarded by _lock
        self._calls_in_flight = 0  # guarded by _lock
        self._last_call = time.monotonic()  # when the last call ended; guarded by _lock

    @property
    def ready(self):
        """Serving a function, or a pool pod waiting to be specialized."""
        if self.draining:
            return False
        return self.handler is not None or (self.specializer is not None and self.specializer.idle)

    def become(self, function_name, handler, timeout_seconds, concurrency):
        """Turns a pool runner into the given function's runner."""
        if concurrency != self.config.concurrency:
            old = self._workers
            self._workers = concurrent.futures.ThreadPoolExecutor(
                max_workers=concurrency, thread_name_prefix="handler")
            old.shutdown(wait=False)
        self.config = dataclasses.replace(self.config, function_name=function_name,
                                          timeout_seconds=timeout_seconds, concurrency=concurrency)
        self.handler = handler

    def stats(self):
        """What the gateway's idler asks every pod before scaling to zero:
        calls seen from every gateway replica, not just its own."""
        with self._lock:
            idle = 0.0 if self._calls_in_flight else time.monotonic() - self._last_call
            stats = {"calls": self._calls, "inFlight": self._calls_in_flight, "idleSeconds": round(idle, 3)}
        if self.specializer is not None and self.specializer.micros is not None:
            stats["specializeMicros"] = self.specializer.micros
        return stats

    def call(self, req):
        """Runs the handler for req and returns a contract.Response."""
        with self._lock:
            self._calls += 1
            self._calls_in_flight += 1
        try:
            return self._call(req)
        finally:
            with self._lock:
                self._calls_in_flight -= 1
                self._last_call = time.monotonic()

    def _call(self, req):
        future = self._workers.submit(self.handler, req)
        try:
            result = future.result(timeout=self.config.timeout_seconds)
            return contract.to_response(result)
        except concurrent.futures.TimeoutError:
            log.error("function %s: call timed out after %ss", self.config.function_name,
                      self.config.timeout_seconds)
            return contract.error_response(504, f"function did not answer within {self.config.timeout_seconds:g}s")
        except contract.BadRequest as err:
            return contract.error_response(400, str(err))
        except Exception as err:  # pylint: disable=broad-except
            log.exception("function %s: handler raised %s", self.config.function_name, type(err).__name__)
            return contract.error_response(500, f"function raised {type(err).__name__}")

    # In-flight and idle-connection bookkeeping, for draining on SIGTERM.

    def begin(self, sock):
        with self._lock:
            self._idle.discard(sock)
            self._in_flight += 1

    def end(self, sock, keep_alive):
        with self._lock:
            self._in_flight -= 1
            if keep_alive:
                self._idle.add(sock)
            self._lock.notify_all()

    def forget(self, sock):
        with self._lock:
            self._idle.discard(sock)

    def drain(self, timeout):
        """Stops being ready, closes idle connections, waits for calls."""
        with self._lock:
            self.draining = True
            for sock in self._idle:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._idle.clear()
            return self._lock.wait_for(lambda: self._in_flight == 0, timeout=timeout)


class Handler(http.server.BaseHTTPRequestHandler):
    """One connection; handles requests until the client or a drain closes it."""

    protocol_version = "HTTP/1.1"
    server_version = "faas-python-runner"
    sys_version = ""
    timeout = 75  # idle keep-alive connections are closed after this long
    # Headers and body go out in two writes; with Nagle's algorithm the
    # second waits for the client's delayed ACK (~40 ms on every warm call).
    disable_nagle_algorithm = True

    @property
    def runner(self):
        return self.server.runner

    def handle(self):
        try:
            super().handle()
        finally:
            self.runner.forget(self.connection)

    def _serve(self):
        runner = self.runner
        runner.begin(self.connection)
        try:
            resp = self._answer(runner)
        finally:
            keep = not self.close_connection and not runner.draining
            if runner.draining:
                self.close_connection = True
        try:
            self._write(resp, close=not keep)
        finally:
            runner.end(self.connection, keep)

    def _answer(self, runner):
        path, _, query = self.path.partition("?")
        if path == READY_PATH:
            if runner.ready:
                return contract.Response(200, {"Content-Type": "text/plain"}, b"ready")
            return contract.error_response(503, "not ready")
        if path == HEALTH_PATH:
            return contract.Response(200, {"Content-Type": "text/plain"}, b"ok")
        if path == STATS_PATH:
            return contract.Response(200, {"Content-Type": "application/json"},
                                     json.dumps(runner.stats()).encode("utf-8"))
        if path == SPECIALIZE_PATH and self.command == "POST":
            return self._specialize(runner)
        if path.startswith("/_/"):
            return contract.error_response(404, f"no runner endpoint {path}")
        try:
            body = self._read_body(runner.config.max_body_bytes)
        except _BodyTooLarge:
            self.close_connection = True
            return contract.error_response(413, f"request body exceeds {runner.config.max_body_bytes} bytes")
        except ValueError as err:
            self.close_connection = True
            return contract.error_response(400, str(err))
        if runner.handler is None:
            return contract.error_response(503, "function code is not loaded")
        req = contract.Request(self.command, path, query, self.headers, body)
        return runner.call(req)

    def _specialize(self, runner):
        if runner.specializer is None:
            return contract.error_response(404, "this pod is not a pool pod")
        try:
            body = self._read_body(runner.config.max_body_bytes)
            micros = runner.specializer.specialize(runner, self.headers.get("Authorization", ""), body)
        except _BodyTooLarge:
            self.close_connection = True
            return contract.error_response(413, "specialization too large")
        except SpecializeError as err:
            if err.status == 422:
                log.error("Specialization failed: %s", err)
                # The user's code ran and failed: this pod is spent. Exit
                # once answered so it is replaced, never reused.
                threading.Timer(0.2, os._exit, args=(1,)).start()
            return contract.error_response(err.status, str(err), **err.extra)
        log.info("Specialized as function %s in %d us", runner.config.function_name, micros)
        body = json.dumps({"specializeMicros": micros}).encode("utf-8")
        return contract.Response(200, {"Content-Type": "application/json"}, body)

    def _read_body(self, limit):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError as err:
            raise ValueError("invalid Content-Length") from err
        if n < 0:
            raise ValueError("invalid Content-Length")
        if n > limit:
            raise _BodyTooLarge()
        return self.rfile.read(n)

    def _read_chunked(self, limit):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as err:
                raise ValueError("invalid chunked body") from err
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > limit:
                raise _BodyTooLarge()
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _write(self, resp, close):
        self.send_response(resp.status)
        for key, value in resp.headers.items():
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(resp.body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # one line per call would flood the pod log; errors are logged

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _BodyTooLarge(Exception):
    pass


class Server(http.server.ThreadingHTTPServer):
    """A threading server that hands its Runner to each connection."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, runner):
        self.runner = runner
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        log.debug("connection from %s closed with an error", client_address, exc_info=True)

