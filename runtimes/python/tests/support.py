"""Runners for tests: in-process on an event loop thread, or a real runner
process; and a raw-socket HTTP client that reads exactly one response.

RUNNER_ROOT (env FAAS_TEST_RUNNER_ROOT) is the directory holding the
`runner` package the process tests start: the tree's own by default, an
older copy to check that a hostile-client test fails there.
"""

import asyncio
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

from runner.app import Runner

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER_ROOT = os.environ.get("FAAS_TEST_RUNNER_ROOT") or os.path.dirname(HERE)
CONTRACT_FILE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "contract", "runner.json")


class InProcessRunner:
    """A Runner on its own event loop thread, on free local ports."""

    def __init__(self, config, handler=None):
        self.config = config
        self._handler = handler
        self.loop = asyncio.new_event_loop()
        self.runner = None
        self.exit_code = None
        self._started = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="test-runner-loop", daemon=True)
        self._thread.start()
        self._started.wait(10)
        if self._error is not None:
            raise self._error

    def _run(self):
        asyncio.set_event_loop(self.loop)
        try:
            self.runner = Runner(self.config, self._handler, self.loop)
            self.loop.run_until_complete(self.runner.start())
        except Exception as err:  # pylint: disable=broad-except
            self._error = err
            self._started.set()
            return
        self._started.set()
        self.exit_code = self.loop.run_until_complete(self.runner.wait())
        self.loop.close()

    @property
    def call_port(self):
        return self.runner.call_port

    @property
    def admin_port(self):
        return self.runner.admin_port

    def on_loop(self, fn, *args):
        """Runs fn on the loop thread and returns its result."""
        done = threading.Event()
        box = {}

        def run():
            try:
                box["value"] = fn(*args)
            except BaseException as err:  # pylint: disable=broad-except
                box["error"] = err
            done.set()

        self.loop.call_soon_threadsafe(run)
        if not done.wait(10):
            raise TimeoutError("the loop did not run the call")
        if "error" in box:
            raise box["error"]
        return box["value"]

    def stop(self, exit_code=0):
        """Drains, then waits for the loop thread to end."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.runner.stop, exit_code)
        self.join()

    def join(self, timeout=30):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("the runner did not stop")


class RunnerTestCase(unittest.TestCase):
    """Serves an in-process runner on 127.0.0.1 for a test."""

    def serve(self, config, handler=None):
        self.server = InProcessRunner(config, handler)
        self.runner = self.server.runner
        self.port = self.server.call_port
        self.admin_port = self.server.admin_port
        self.addCleanup(self.server.stop)

    def raw(self, admin=False):
        """A RawClient to the call (or admin) port, closed after the test."""
        client = RawClient(self.admin_port if admin else self.port)
        self.addCleanup(client.close)
        return client

    def conn(self, admin=False):
        return http.client.HTTPConnection("127.0.0.1", self.admin_port if admin else self.port, timeout=5)

    def request(self, method, path, body=None, headers=None, conn=None, admin=False):
        """One request; returns (status, headers dict, body). A connection
        made here is closed; one passed in is kept for reuse."""
        c = conn or self.conn(admin)
        try:
            c.request(method, path, body=body, headers=headers or {})
            resp = c.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            if conn is None:
                c.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunnerProcess:
    """A real runner process (python -m runner from RUNNER_ROOT), started
    with the given code and environment; ready once it logged that it
    serves. Its stderr is kept in self.log."""

    def __init__(self, code=None, env=None, root=None, python=None):
        self.dir = tempfile.TemporaryDirectory(prefix="runner-test-")
        self.port = free_port()
        self.admin_port = free_port()
        self.termination_log = os.path.join(self.dir.name, "termination-log")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("FAAS_")}
        full_env.update({
            "PYTHONPATH": root or RUNNER_ROOT,
            "PYTHONDONTWRITEBYTECODE": "1",
            "FAAS_PORT": str(self.port),
            "FAAS_ADMIN_PORT": str(self.admin_port),
            "FAAS_HTTP_HOST": "127.0.0.1",
            "FAAS_TERMINATION_LOG": self.termination_log,
            "FAAS_FUNCTION_NAME": "test",
            "FAAS_PACKAGE_DIR": os.path.join(self.dir.name, "package"),
        })
        if code is not None:
            path = os.path.join(self.dir.name, "function.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(code)
            full_env["FAAS_CODE_PATH"] = path
        full_env.update(env or {})
        self.log = []
        self._log_changed = threading.Condition()
        self.proc = subprocess.Popen([python or sys.executable, "-m", "runner"], cwd=self.dir.name, env=full_env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self._serving = threading.Event()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()

    def _read_log(self):
        for line in self.proc.stderr:
            with self._log_changed:
                self.log.append(line)
                self._log_changed.notify_all()
            if "Serving function" in line or "Pool runner waiting" in line:
                self._serving.set()
        self._serving.set()  # exited: wait_serving reports it
        with self._log_changed:
            self.log.append(None)  # end of the log
            self._log_changed.notify_all()

    def wait_log(self, text, timeout=15):
        """Waits for a log line containing text."""
        def seen():
            return any(line is None or text in line for line in self.log)

        with self._log_changed:
            if not self._log_changed.wait_for(seen, timeout) or None in self.log and not any(
                    line and text in line for line in self.log):
                raise AssertionError(f"runner never logged {text!r}:\n" + "".join(filter(None, self.log)))

    def wait_serving(self, timeout=15):
        if not self._serving.wait(timeout) or self.proc.poll() is not None:
            raise AssertionError("runner did not start:\n" + "".join(filter(None, self.log)))
        return self

    def wait_exit(self, timeout=15):
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        self.proc.stderr.close()
        self.dir.cleanup()


class RawResponse:
    """One response as read off a socket."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # {lower-case name: [values]}
        self.body = body

    def header(self, name):
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def __repr__(self):
        return f"RawResponse({self.status}, {self.headers}, {self.body[:200]!r})"


class RawClient:
    """A raw TCP connection that sends arbitrary bytes and reads responses
    by the rules a correct client follows: no body for 1xx, 204, 304 and
    answers to HEAD; Content-Length otherwise, else until EOF."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def read_response(self, head_request=False):
        """The next response; EOFError when the connection closed before it,
        socket.timeout when none came in time."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise AssertionError(f"not a status line: {lines[0]!r}")
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.setdefault(name.strip().lower().decode("latin-1"), []).append(value.strip().decode("latin-1"))
        if 100 <= status < 200:
            return RawResponse(status, headers, b"")
        if head_request or status in (204, 304):
            return RawResponse(status, headers, b"")
        length = headers.get("content-length")
        if length is not None:
            n = int(length[0])
            while len(self.buf) < n:
                self._fill()
            body, self.buf = self.buf[:n], self.buf[n:]
            return RawResponse(status, headers, body)
        while True:
            try:
                self._fill()
            except EOFError:
                break
        body, self.buf = self.buf, b""
        return RawResponse(status, headers, body)

    def closed_by_peer(self, timeout=5.0):
        """True once the peer closed (EOF or reset) within timeout, with no
        further response bytes; False if it kept the connection open."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return not self.buf
                self.buf += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return not self.buf


def request_bytes(method="GET", path="/", headers=None, body=b"", host="t"):
    """A well-formed request; headers are (name, value) pairs."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
    if body and not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers or []):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
