"""python3 -m runner.compiler: compiles functions' inline sources for the
gateway, ahead of their first call, and runs none of them.

POST runnerapi.COMPILE_PATH with a source (UTF-8) answers its .pyc
(pyc.py), compiled exactly as a runner compiles it, so that a pool pod's
specialization only unmarshals it. Every source is hostile: compile() runs
no code, but a parser bug must not let one source reach another's compile.
So each compile runs in a fresh forked child that first closes every file
descriptor but its result pipe, cannot fork again, and is bounded in CPU
time and memory; the parent waits for it with a deadline, kills it after,
and is itself non-dumpable, so a child cannot ptrace it (fork keeps that
flag). One compile at a time: the gateway asks one at a time, and the
server is single-threaded. Only gateway pods may connect (NetworkPolicy);
it may connect nowhere.

Settings (environment): FAAS_PORT (runnerapi.COMPILER_PORT),
FAAS_COMPILE_TIMEOUT_SECONDS (5), FAAS_COMPILE_MEMORY_BYTES (512 MiB of
address space for a child), FAAS_COMPILE_READ_TIMEOUT_SECONDS (5, to read a
request).
"""

import ctypes
import http.server
import json
import logging
import os
import resource
import select
import signal
import sys
import time

from . import pyc as pycfile
from . import runnerapi as api

log = logging.getLogger("compiler")

_OK, _UNCOMPILABLE = b"P", b"E"


class Settings:
    """The compiler's bounds, from the environment."""

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        self.port = int(env.get(api.ENV_PORT, api.COMPILER_PORT))
        self.timeout = float(env.get("FAAS_COMPILE_TIMEOUT_SECONDS", "5"))
        self.memory = int(env.get("FAAS_COMPILE_MEMORY_BYTES", str(512 << 20)))
        self.read_timeout = float(env.get("FAAS_COMPILE_READ_TIMEOUT_SECONDS", "5"))


class Refused(Exception):
    """A compile that gives no .pyc; status is the HTTP answer."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def compile_isolated(source_bytes, settings):
    """Compiles source_bytes in a forked child and returns the .pyc, or
    raises Refused: 422 when the source does not compile, 503 when the
    child ran out of time or memory or died."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        _child(source_bytes, write_end, settings)
    os.close(write_end)
    try:
        return _collect(pid, read_end, settings.timeout)
    finally:
        os.close(read_end)


def _child(source_bytes, write_end, settings):
    status = 70
    try:
        os.closerange(0, write_end)
        os.closerange(write_end + 1, _max_fd())
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
        cpu = max(1, int(settings.timeout) + 1)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        if settings.memory > 0:
            resource.setrlimit(resource.RLIMIT_AS, (settings.memory, settings.memory))
        try:
            source = source_bytes.decode("utf-8")
            out = _OK + pycfile.dumps(source, pycfile.compile_source(source))
        except SyntaxError as err:
            out = _UNCOMPILABLE + f"{type(err).__name__}: {err.msg} ({pycfile.FILENAME}, line {err.lineno})".encode()
        except (ValueError, RecursionError, UnicodeError) as err:
            out = _UNCOMPILABLE + f"{pycfile.FILENAME} cannot be compiled: {type(err).__name__}: {err}".encode()
        view = memoryview(out)
        while view:
            view = view[os.write(write_end, view):]
        status = 0
    except MemoryError:
        status = 71
    finally:
        os._exit(status)  # pylint: disable=protected-access


def _max_fd():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 65536


def _collect(pid, read_end, timeout):
    deadline = time.monotonic() + timeout
    chunks = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Refused(503, f"the compile took longer than {timeout:g} s")
            ready, _, _ = select.select([read_end], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        _reap(pid)
    out = b"".join(chunks)
    if out[:1] == _OK:
        return out[1:]
    if out[:1] == _UNCOMPILABLE:
        raise Refused(422, out[1:].decode("utf-8", "replace"))
    raise Refused(503, "the compile ran out of memory or died")


def _reap(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)


class Handler(http.server.BaseHTTPRequestHandler):
    """POST COMPILE_PATH, GET HEALTH_PATH; nothing else."""

    server_version = "faas-compiler"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection.settimeout(self.server.settings.read_timeout)

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == api.HEALTH_PATH:
            self._send(200, "text/plain", b"ok")
        else:
            self._error(404, f"no compiler endpoint {self.path}")

    def do_POST(self):  # noqa: N802
        if self.path != api.COMPILE_PATH:
            self._error(404, f"no compiler endpoint {self.path}")
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isascii() or not length.isdigit():
            self.close_connection = True
            self._error(411, "a compile needs a Content-Length")
            return
        if int(length) > api.COMPILE_MAX_BYTES:
            self.close_connection = True
            self._error(413, f"source larger than {api.COMPILE_MAX_BYTES} bytes")
            return
        source = self.rfile.read(int(length))
        if len(source) != int(length):
            self.close_connection = True
            return
        start = time.perf_counter()
        try:
            out = compile_isolated(source, self.server.settings)
        except Refused as err:
            log.info("compile of %d bytes refused in %.1f ms: %d %s", len(source),
                     (time.perf_counter() - start) * 1000, err.status, err)
            self._error(err.status, str(err))
            return
        log.info("compiled %d bytes in %.1f ms", len(source), (time.perf_counter() - start) * 1000)
        self._send(200, api.COMPILED_MEDIA_TYPE, out)

    def _error(self, status, message):
        self._send(status, "application/json",
                   json.dumps({api.ERROR_ERROR: message, api.ERROR_STATUS: status}).encode("utf-8"))

    def _send(self, status, content_type, body):
        # One request per connection: the server is single-threaded, and a
        # kept-alive connection would hold it from the other gateways.
        self.close_connection = True
        self.send_response(status)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass  # one line per compile is logged above


class Server(http.server.HTTPServer):
    """One request at a time."""

    allow_reuse_address = True

    def __init__(self, address, settings):
        super().__init__(address, Handler)
        self.settings = settings


def non_dumpable():
    """Makes this process non-dumpable (PR_SET_DUMPABLE 0): processes of
    the same user, a compile's child among them, cannot ptrace it; its
    children inherit the flag."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError) as err:
        log.warning("cannot make the compiler non-dumpable: %s", err)


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    non_dumpable()
    server = Server(("", settings.port), settings)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("compiler listening on :%d (timeout %g s, %d bytes of memory per compile)",
             settings.port, settings.timeout, settings.memory)
    server.serve_forever()


if __name__ == "__main__":
    main()
