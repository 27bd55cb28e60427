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

A client gets FAAS_COMPILE_READ_TIMEOUT_SECONDS for its whole request,
not per read: the server holds one connection at a time, and one that
sends a byte every few seconds would otherwise hold it for ever. The .pyc
a child answers is bounded (MAX_COMPILED) so that the parent's memory is,
and so that the gateway never sends a pool pod more than it takes.

Settings (environment): FAAS_PORT (runnerapi.COMPILER_PORT), FAAS_HTTP_HOST
("": every IPv4 and IPv6 address, as the runner), FAAS_COMPILE_TIMEOUT_SECONDS
(5), FAAS_COMPILE_MEMORY_BYTES (512 MiB of address space for a child),
FAAS_COMPILE_READ_TIMEOUT_SECONDS (5, to read a request).
"""

import ctypes
import http
import http.server
import io
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
from .config import ENV_HOST
from .server import bind

log = logging.getLogger("compiler")

_OK, _UNCOMPILABLE = b"P", b"E"

#: The largest .pyc answered: what a pool pod takes in one specialization
#: (its default body limit), less room for the JSON of the largest source.
#: Typical code compiles to ~3.5 times its size (768 KiB: 2.6 MB), but
#: folded constants make more ("x1 = 'ab' * 2048" is 4 KiB), and a larger
#: .pyc would have the pod refuse the specialization (413) rather than
#: compile the source itself.
MAX_COMPILED = api.DEFAULT_MAX_BODY_BYTES - 2 * api.COMPILE_MAX_BYTES


class Settings:
    """The compiler's bounds, from the environment."""

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        self.host = env.get(ENV_HOST, "")
        self.port = int(env.get(api.ENV_PORT) or api.COMPILER_PORT)
        self.timeout = float(env.get("FAAS_COMPILE_TIMEOUT_SECONDS") or 5)
        self.memory = int(env.get("FAAS_COMPILE_MEMORY_BYTES") or 512 << 20)
        self.read_timeout = float(env.get("FAAS_COMPILE_READ_TIMEOUT_SECONDS") or 5)
        self.max_compiled = MAX_COMPILED  # not a setting: tests lower it
        if not (self.timeout > 0 and self.read_timeout > 0):
            raise ValueError("FAAS_COMPILE_TIMEOUT_SECONDS and FAAS_COMPILE_READ_TIMEOUT_SECONDS must be positive")


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
    try:
        pid = os.fork()
    except OSError as err:  # out of processes or memory: may pass
        os.close(write_end)
        os.close(read_end)
        raise Refused(503, f"cannot start a compile: {err}") from err
    if pid == 0:  # the child: never returns
        _child(source_bytes, write_end, settings)
    os.close(write_end)
    try:
        return _collect(pid, read_end, settings.timeout, settings.max_compiled)
    finally:
        os.close(read_end)


def _child(source_bytes, write_end, settings):
    status = 70
    try:
        os.closerange(0, write_end)
        os.closerange(write_end + 1, _max_fd())
        _oom_first()
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


def _oom_first():
    """Makes this child the one the kernel kills when the container runs
    out of memory before RLIMIT_AS stops it (a pod limit below that bound,
    or several children's worth): the server then answers 503 and goes on,
    rather than the container restarting. Raising one's own score needs no
    privilege; best effort."""
    try:
        with open("/proc/self/oom_score_adj", "w", encoding="ascii") as f:
            f.write("1000")
    except OSError:
        pass


def _max_fd():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 65536


def _collect(pid, read_end, timeout, max_compiled):
    deadline = time.monotonic() + timeout
    chunks = []
    size = 0
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
            size += len(chunk)
            if size > max_compiled + 1:  # the kind byte, then the .pyc
                # Deterministic for this source: the gateway does not ask
                # again, and the pod compiles it.
                raise Refused(422, f"the compiled code is larger than {max_compiled} bytes")
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


class _Deadline(io.RawIOBase):
    """A socket's reads, every one of them before one deadline: a timeout
    per read alone lets a client that sends a byte now and then hold the
    server, which serves one connection at a time, for as long as it likes."""

    def __init__(self, sock, deadline):
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self):
        return True

    def readinto(self, b):
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._sock.settimeout(left)
        return self._sock.recv_into(b)


# Each path's one method.
_ALLOWED = {api.COMPILE_PATH: "POST", api.HEALTH_PATH: "GET"}


class Handler(http.server.BaseHTTPRequestHandler):
    """POST COMPILE_PATH, GET HEALTH_PATH; 405 for another method of
    either, 404 for any other path; every error an ErrorBody."""

    server_version = "faas-compiler"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # The whole request within read_timeout of accept (see _Deadline).
        timeout = self.server.settings.read_timeout
        self.connection.settimeout(timeout)
        self.rfile.close()  # makefile()'s: it holds the socket open
        self.rfile = io.BufferedReader(_Deadline(self.connection, time.monotonic() + timeout))

    def _route(self):
        allowed = _ALLOWED.get(self.path)
        if allowed is None:
            self._error(404, f"no compiler endpoint {self.path}")
        elif self.command != allowed:
            self._error(405, f"{self.path} takes {allowed}", Allow=allowed)
        elif allowed == "GET":
            self._send(200, "text/plain", b"ok")
        else:
            self._compile()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _route  # noqa: N815

    def send_error(self, code, message=None, explain=None):
        """http.server's own refusals (a bad request line, 431, 501 for an
        unknown method) as an ErrorBody like every other answer."""
        self._error(int(code), message or http.HTTPStatus(code).phrase)

    def _compile(self):
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

    def _error(self, status, message, **headers):
        self._send(status, "application/json",
                   json.dumps({api.ERROR_ERROR: message, api.ERROR_STATUS: status}).encode("utf-8"), **headers)

    def _send(self, status, content_type, body, **headers):
        # One request per connection: the server is single-threaded, and a
        # kept-alive connection would hold it from the other gateways.
        self.close_connection = True
        self.send_response(status)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        # The answer's sendall within read_timeout (a total since 3.5), not
        # within what the request's deadline had left at its last read.
        self.connection.settimeout(self.server.settings.read_timeout)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass  # one line per compile is logged above

    def log_error(self, format, *args):  # pylint: disable=redefined-builtin
        log.warning("request from %s: %s", self.client_address[0], format % args)


class Server(http.server.HTTPServer):
    """One request at a time. Host "" is every IPv4 and IPv6 address, as
    the runner binds (server.bind): HTTPServer's own would be IPv4 only,
    out of reach in an IPv6 cluster."""

    def __init__(self, address, settings):
        super().__init__(address, Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = bind(address[0], address[1], backlog=64)
        self.server_address = self.socket.getsockname()[:2]
        self.settings = settings

    def handle_error(self, request, client_address):
        """A client gone before its answer (a reset) is one line, not
        socketserver's traceback on stderr."""
        log.warning("request from %s failed: %s", client_address[0], sys.exc_info()[1])


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
    try:
        settings = Settings()
    except ValueError as err:
        log.error("Cannot start: %s", err)
        return 2
    non_dumpable()
    server = Server((settings.host, settings.port), settings)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("compiler listening on :%d (timeout %g s, %d bytes of memory per compile)",
             settings.port, settings.timeout, settings.memory)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
