"""The compiler (runner.compiler) and the runner's use of what it compiles
(runner.pyc, the specialization's SPEC_LENGTH_HEADER)."""

import hashlib
import http.client
import importlib.util
import json
import marshal
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

from runner import compiler
from runner import pyc
from runner import runnerapi as api
from runner.config import Config
from tests.support import RUNNER_ROOT, RawClient, RunnerTestCase, free_port, request_bytes
from tests.test_specialize import TOKEN, spec

CODE = "def handle(req):\n    return 'specialized ' + req.path\n"
#: Compiles for ~20-80 ms here (200,000 list elements): past a lowered timeout.
SLOW = ("x = [" + "1, " * 200_000 + "]\n").encode()


def settings(**kw):
    s = compiler.Settings({})
    s.port = 0
    # No address-space bound unless a test sets one: RLIMIT_AS covers the
    # child's whole address space, inherited from this process, whose
    # threads leave it at ~1 GB by the end of the suite (the compiler's own
    # is ~30 MB).
    s.memory = 0
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def within(seconds, fn, *args):
    """fn(*args)'s result or exception, on a thread: a failure, not a hung
    suite, when it does not return within seconds (a child left to run
    blocks on its full pipe for ever)."""
    box = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as err:  # pylint: disable=broad-except
            box["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise AssertionError(f"{fn.__name__} did not return within {seconds} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


class CompileIsolatedTest(unittest.TestCase):
    def test_the_pyc_is_what_the_runner_would_compile(self):
        helpers = "".join(f"\ndef helper_{i}(x):\n    return x * {i} + len(str(x))\n" for i in range(2000))
        for source in (CODE, "# -*- coding: latin-1 -*-\n" + CODE + "s = 'é'\n" + helpers):
            with self.subTest(size=len(source)):
                out = compiler.compile_isolated(source.encode(), settings())
                # Byte for byte what this process makes of it; marshal's
                # bytes depend on reference counts too (a code object held
                # twice is marked for back-references), so they are compared
                # as made by the same call...
                self.assertEqual(out, pyc.dumps(source, pyc.compile_source(source)))
                # ... and the code object by value with the loader's compile
                # (a str: the coding cookie is ignored, as in the runner).
                code = marshal.loads(out[16:])
                self.assertEqual(code, compile(source, "function.py", "exec"))
                self.assertEqual(code.co_filename, "function.py")
                self.assertEqual(out[:4], importlib.util.MAGIC_NUMBER)
                self.assertEqual(out[4:8], (0b11).to_bytes(4, "little"))
                self.assertEqual(out[8:16], importlib.util.source_hash(source.encode("utf-8")))
                self.assertEqual(pyc.loads(source, out), code)

    def test_a_syntax_error_is_422_with_its_line(self):
        with self.assertRaises(compiler.Refused) as ctx:
            compiler.compile_isolated(b"x = 1\ndef handle(req)\n    return 1\n", settings())
        self.assertEqual(ctx.exception.status, 422)
        self.assertIn("line 2", str(ctx.exception))

    def test_not_utf8_and_nul_are_422(self):
        for source in (b"x = '\xff'\n", b"x = 1\x00\n"):
            with self.assertRaises(compiler.Refused) as ctx:
                compiler.compile_isolated(source, settings())
            self.assertEqual(ctx.exception.status, 422, source)

    def test_a_compile_past_its_time_is_killed_and_503(self):
        # Slow enough on any machine: a very long source, with a tiny timeout.
        source = ("x = [" + "1, " * 200_000 + "]\n").encode()
        with self.assertRaises(compiler.Refused) as ctx:
            within(10, compiler.compile_isolated, source, settings(timeout=0.001))
        self.assertEqual(ctx.exception.status, 503)
        # The next compile is served.
        self.assertIsNotNone(compiler.compile_isolated(CODE.encode(), settings()))

    def test_a_compile_past_its_memory_is_503(self):
        # 64 MiB more than this process holds: enough for a small source,
        # not for SLOW's 200,000 list elements (~200 MiB).
        with open("/proc/self/status", encoding="ascii") as f:
            held = next(int(line.split()[1]) << 10 for line in f if line.startswith("VmSize:"))
        bound = settings(memory=held + (64 << 20))
        self.assertIsNotNone(compiler.compile_isolated(CODE.encode(), bound))
        with self.assertRaises(compiler.Refused) as ctx:
            compiler.compile_isolated(SLOW, bound)
        self.assertEqual(ctx.exception.status, 503)
        self.assertIn("ran out of memory or died", str(ctx.exception))

    def test_a_fork_that_fails_is_503_and_leaks_no_descriptor(self):
        before = len(os.listdir("/proc/self/fd"))
        with mock.patch.object(compiler.os, "fork", side_effect=BlockingIOError(11, "Resource temporarily unavailable")):
            for _ in range(5):
                with self.assertRaises(compiler.Refused) as ctx:
                    compiler.compile_isolated(CODE.encode(), settings())
                self.assertEqual(ctx.exception.status, 503)
        self.assertEqual(len(os.listdir("/proc/self/fd")), before)
        self.assertIsNotNone(compiler.compile_isolated(CODE.encode(), settings()))

    def test_the_child_holds_no_descriptor_but_its_pipe_and_cannot_fork(self):
        # The parent's descriptors (its listening socket, a client's
        # connection, ...) are closed in the child before the source is
        # parsed: some below its result pipe and some above it.
        below, hole, above = os.pipe(), os.pipe(), os.pipe()
        for fd in hole:
            os.close(fd)  # the result pipe takes these numbers: between the others
        for fd in below + above:
            self.addCleanup(os.close, fd)

        def probe(source):
            fds = [fd for fd in map(int, os.listdir("/proc/self/fd")) if is_open(fd)]  # listdir's own is closed
            # RLIMIT_NPROC 0 refuses fork() to a user without
            # CAP_SYS_RESOURCE, as the compiler's pod runs; root (this
            # test, perhaps) is exempt, so the limit itself is checked.
            with open("/proc/self/oom_score_adj", encoding="ascii") as f:
                oom_score_adj = f.read().strip()
            raise ValueError(json.dumps({"fds": fds, "oom": oom_score_adj,
                                         "fork": resource.getrlimit(resource.RLIMIT_NPROC),
                                         "cpu": resource.getrlimit(resource.RLIMIT_CPU),
                                         "memory": resource.getrlimit(resource.RLIMIT_AS)}))

        with mock.patch.object(pyc, "compile_source", probe):
            with self.assertRaises(compiler.Refused) as ctx:
                compiler.compile_isolated(b"x = 1\n", settings(timeout=2.5, memory=300 << 20))
        seen = json.loads(str(ctx.exception).split(": ", 2)[2])
        self.assertEqual(len(seen["fds"]), 1, seen)  # its result pipe's write end
        self.assertTrue(max(below) < seen["fds"][0] < min(above), (below, seen, above))
        self.assertEqual(seen["fork"], [0, 0])
        self.assertEqual(seen["oom"], "1000")  # killed first when the container runs out of memory
        self.assertEqual(seen["cpu"], [3, 3])  # seconds: a backstop for the parent's deadline
        self.assertEqual(seen["memory"], [300 << 20, 300 << 20])

    def test_the_child_is_killed_at_the_deadline_and_reaped(self):
        # 2.5 MB of source compiles for about a second (or until its
        # RLIMIT_CPU of 1 s): the answer comes at the deadline, not then.
        forked = []
        real_fork = os.fork

        def fork():
            pid = real_fork()
            if pid:
                forked.append(pid)
            return pid

        source = ("def handle(req):\n    return 1\n" + "".join(
            f"\ndef helper_{i}(x):\n    return x * {i} + len(str(x))\n" for i in range(50_000))).encode()
        started = time.monotonic()
        with mock.patch.object(compiler.os, "fork", fork), self.assertRaises(compiler.Refused) as ctx:
            within(10, compiler.compile_isolated, source, settings(timeout=0.05))
        self.assertEqual(ctx.exception.status, 503)
        self.assertLess(time.monotonic() - started, 0.5)
        with self.assertRaises(ChildProcessError):  # reaped: no zombie left
            os.waitpid(forked[0], os.WNOHANG)


class CompilerServerTest(unittest.TestCase):
    def setUp(self):
        self.start()

    def start(self, **kw):
        """(Re)starts the server of this test with settings(**kw)."""
        self.server = compiler.Server(("127.0.0.1", 0), settings(**kw))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(within, 10, self.server.shutdown)

    def post(self, body, path=api.COMPILE_PATH, headers=None, method="POST"):
        c = http.client.HTTPConnection("127.0.0.1", self.server.server_address[1], timeout=10)
        self.addCleanup(c.close)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()

    def test_compiles_refuses_and_keeps_serving(self):
        status, ctype, body = self.post(CODE.encode())
        self.assertEqual((status, ctype), (200, api.COMPILED_MEDIA_TYPE))
        self.assertIsNotNone(pyc.loads(CODE, body))
        status, _, body = self.post(b"def (")
        self.assertEqual(status, 422)
        self.assertIn("SyntaxError", json.loads(body)["error"])
        # Refused on its Content-Length, before the body is read.
        with socket.create_connection(("127.0.0.1", self.server.server_address[1]), timeout=10) as s:
            s.sendall(f"POST {api.COMPILE_PATH} HTTP/1.1\r\nHost: c\r\n"
                      f"Content-Length: {api.COMPILE_MAX_BYTES + 1}\r\n\r\n".encode())
            answer = b""
            while chunk := s.recv(65536):  # to its end: closing earlier would reset the answer
                answer += chunk
            self.assertRegex(answer, rb"^HTTP/1\.[01] 413 ")
        self.assertEqual(self.post(CODE.encode(), path="/other")[0], 404)
        self.assertEqual(self.post(CODE.encode())[0], 200)

    def test_no_content_length_is_411(self):
        def chunks():
            yield CODE.encode()
        status, _, _ = self.post(chunks(), headers={"Transfer-Encoding": "chunked"})
        self.assertEqual(status, 411)

    def test_a_compile_past_its_time_is_503_and_the_next_one_is_served(self):
        self.start(timeout=0.02)
        with self.assertLogs("compiler", "INFO") as logs:
            status, ctype, body = self.post(SLOW)
            self.assertEqual((status, ctype), (503, "application/json"), body)
            self.assertIn("longer than 0.02 s", json.loads(body)["error"])
            self.assertEqual(self.post(CODE.encode())[0], 200)
        # One line per compile: its size, time and outcome.
        self.assertRegex(logs.output[0], rf"compile of {len(SLOW)} bytes refused in [0-9.]+ ms: 503 ")
        self.assertRegex(logs.output[1], rf"compiled {len(CODE)} bytes in [0-9.]+ ms")

    def test_a_slow_client_does_not_hold_the_server(self):
        # One connection at a time: a client that sends a byte every 0.2 s
        # stays within any timeout per read, and must still be cut off at
        # read_timeout for its whole request.
        self.start(read_timeout=0.5)
        slow = RawClient(self.server.server_address[1])
        self.addCleanup(slow.close)
        request = request_bytes("POST", api.COMPILE_PATH, body=CODE.encode())
        stop = threading.Event()

        def trickle():
            for i in range(len(request)):
                if stop.wait(0.2):
                    return
                try:
                    slow.send(request[i:i + 1])
                except OSError:
                    return

        threading.Thread(target=trickle, daemon=True).start()
        self.addCleanup(stop.set)
        time.sleep(0.1)  # the slow one is accepted first
        started = time.monotonic()
        with self.assertLogs("compiler", "WARNING") as logs:
            self.assertEqual(self.post(CODE.encode())[0], 200)
        self.assertLess(time.monotonic() - started, 3)
        self.assertIn("timed out", logs.output[0])
        self.assertTrue(slow.closed_by_peer(1))

    def test_the_answer_gets_its_own_timeout_not_what_the_request_left(self):
        # The request's deadline is for the request: a request whole just
        # before it must not leave its answer (MBs to send) a few ms.
        self.start(read_timeout=1.0)
        seen = []

        class Recording(compiler.Handler):
            def end_headers(self):
                seen.append(self.connection.gettimeout())
                super().end_headers()

        self.server.RequestHandlerClass = Recording
        request = request_bytes("POST", api.COMPILE_PATH, body=CODE.encode())
        client = RawClient(self.server.server_address[1])
        self.addCleanup(client.close)
        client.send(request[:-1])
        time.sleep(0.8)
        client.send(request[-1:])
        self.assertEqual(client.read_response().status, 200)
        self.assertEqual(seen, [1.0])

    def test_other_methods_are_405_other_paths_404_every_error_json(self):
        cases = [("GET", api.COMPILE_PATH, 405, "POST"), ("PUT", api.COMPILE_PATH, 405, "POST"),
                 ("POST", api.HEALTH_PATH, 405, "GET"), ("GET", "/healthz", 404, None),
                 ("POST", "/v1/compile/x", 404, None)]
        for method, path, want, allow in cases:
            with self.subTest(method=method, path=path):
                c = http.client.HTTPConnection("127.0.0.1", self.server.server_address[1], timeout=10)
                self.addCleanup(c.close)
                c.request(method, path, body=b"x = 1\n")
                r = c.getresponse()
                self.assertEqual((r.status, r.getheader("Allow")), (want, allow))
                self.assertEqual(json.loads(r.read())["status"], want)
        # http.server's own refusals are an ErrorBody too.
        status, ctype, body = self.post(b"", method="BREW")
        self.assertEqual((status, ctype, json.loads(body)["status"]), (501, "application/json", 501))
        self.assertEqual(self.post(None, path=api.HEALTH_PATH, method="GET")[0], 200)

    def test_compiled_code_larger_than_a_pod_takes_is_422(self):
        # 8 KB of source that folds into 400 constants of 12 KB each.
        source = "".join(f"x{i} = '{chr(0x4e00 + i)}' * 4096\n" for i in range(400)).encode()
        status, _, body = self.post(source)
        self.assertEqual(status, 422, body[:200])
        self.assertIn(f"larger than {compiler.MAX_COMPILED} bytes", json.loads(body)["error"])
        # What the pod takes: the JSON of the largest source and the .pyc.
        self.assertLessEqual(compiler.MAX_COMPILED + 2 * api.COMPILE_MAX_BYTES, api.DEFAULT_MAX_BODY_BYTES)
        self.assertEqual(self.post(CODE.encode())[0], 200)


    @unittest.skipUnless(socket.has_dualstack_ipv6(), "no dual-stack IPv6 here")
    def test_every_address_is_ipv4_and_ipv6(self):
        server = compiler.Server(("", 0), settings())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(within, 10, server.shutdown)
        for host in ("127.0.0.1", "::1"):
            with self.subTest(host):
                c = http.client.HTTPConnection(host, server.server_address[1], timeout=10)
                self.addCleanup(c.close)
                c.request("GET", api.HEALTH_PATH)
                self.assertEqual(c.getresponse().status, 200)


class CompilerProcessTest(unittest.TestCase):
    """python3 -m runner.compiler as its pod runs it."""

    def test_serves_on_faas_port_and_its_pyc_specializes_a_runner(self):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAAS_")}
        env.update(PYTHONPATH=RUNNER_ROOT, PYTHONDONTWRITEBYTECODE="1", FAAS_PORT=str(port),
                   FAAS_HTTP_HOST="127.0.0.1")
        proc = subprocess.Popen([sys.executable, "-m", "runner.compiler"], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(proc.stderr.close)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.terminate)
        self.assertIn(f"listening on :{port}", proc.stderr.readline())
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", api.COMPILE_PATH, body=CODE.encode())
        r = c.getresponse()
        compiled = r.read()
        c.close()
        self.assertEqual((r.status, r.getheader("Content-Type")), (200, api.COMPILED_MEDIA_TYPE))
        self.assertIn(f"compiled {len(CODE)} bytes in ", proc.stderr.readline())
        runner = SpecializeWithPycTest("run")
        runner.setUp()
        try:
            body = spec(CODE)
            self.assertEqual(runner.specialize(body + compiled, len(body))[0], 200)
            self.assertEqual(runner.request("GET", "/x")[2], b"specialized /x")
            self.assertIs(runner.stats().get(api.STATS_SPECIALIZED_COMPILED), True)
        finally:
            runner.doCleanups()

    def test_non_dumpable(self):
        # In a process of its own: the flag cannot be undone.
        out = subprocess.run([sys.executable, "-c", "import ctypes\nfrom runner import compiler\n"
                              "libc = ctypes.CDLL(None)\nprint(libc.prctl(3, 0, 0, 0, 0))\n"
                              "compiler.non_dumpable()\nprint(libc.prctl(3, 0, 0, 0, 0))\n"],
                             env={**os.environ, "PYTHONPATH": RUNNER_ROOT}, capture_output=True, text=True,
                             timeout=30, check=True)
        self.assertEqual(out.stdout.split(), ["1", "0"])  # PR_GET_DUMPABLE: before, after


def damaged_code(data):
    """data (a marshalled code object) with the first one-byte change that
    makes marshal.loads raise SystemError, not ValueError or EOFError."""
    for i in range(len(data)):
        for value in (0x00, 0x7f, 0xff):
            damaged = data[:i] + bytes([value]) + data[i + 1:]
            try:
                marshal.loads(damaged)
            except SystemError:
                return damaged
            except Exception:  # pylint: disable=broad-except
                pass
    raise AssertionError("no one-byte change raises SystemError")


class PycTest(unittest.TestCase):
    def good(self, source=CODE):
        return pyc.dumps(source, pyc.compile_source(source))

    def test_loads_only_a_pyc_made_for_this_source_here(self):
        good = self.good()
        other = self.good("def handle(req):\n    return 'other'\n")
        forged = good[:16] + other[16:]  # the right header over another source's code
        cases = {
            "good": (good, True),
            "another source's": (other, False),
            "wrong magic": (b"\x00\x00\x0d\x0a" + good[4:], False),
            "wrong flags": (good[:4] + b"\x01\x00\x00\x00" + good[8:], False),
            "garbage marshal": (good[:16] + b"\xff\x00garbage", False),
            "not a code object": (good[:16] + marshal.dumps(42), False),
            "a damaged code object": (good[:16] + damaged_code(good[16:]), False),
            "header only": (good[:16], False),
            "empty": (b"", False),
        }
        for name, (data, ok) in cases.items():
            with self.subTest(name):
                self.assertEqual(pyc.loads(CODE, data) is not None, ok)
        # The forged one carries CODE's hash: loads runs its code, which is
        # what the gateway's key (the source's SHA-256) and the compiler's
        # isolation answer for, not this check.
        self.assertIsNotNone(pyc.loads(CODE, forged))

    def test_ignored_when_this_interpreter_optimizes(self):
        with mock.patch.object(pyc.sys, "flags", mock.Mock(optimize=1)):
            self.assertIsNone(pyc.loads(CODE, self.good()))


class SpecializeWithPycTest(RunnerTestCase):
    def setUp(self):
        self.start()

    def start(self):
        """(Re)starts this test's pool runner: a fresh, unclaimed pod."""
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        config = Config(host="127.0.0.1", port=0, admin_port=0, mode="pool",
                        termination_log=os.path.join(tmp.name, "termination-log"),
                        specialize_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())
        self.serve(config)

    def specialize(self, body, length):
        headers = {"Authorization": "Bearer " + TOKEN}
        if length is not None:
            headers[api.SPEC_LENGTH_HEADER] = str(length)
        status, _, answer = self.request("POST", api.SPECIALIZE_PATH, body=body, headers=headers, admin=True)
        return status, answer

    def stats(self):
        return json.loads(self.request("GET", api.STATS_PATH, admin=True)[2])

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_a_pyc_for_the_code_is_loaded_and_the_hash_covers_the_json(self):
        body = spec(CODE)
        status, answer = self.specialize(body + pyc.dumps(CODE, pyc.compile_source(CODE)), len(body))
        self.assertEqual(status, 200, answer)
        self.assertEqual(self.request("GET", "/x")[2], b"specialized /x")
        self.assertIs(self.stats().get(api.STATS_SPECIALIZED_COMPILED), True)
        status, answer = self.specialize(spec("x = 1"), None)
        self.assertEqual(status, 409)
        self.assertEqual(json.loads(answer)["specHash"], hashlib.sha256(body).hexdigest())

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_a_pyc_of_other_code_is_ignored_and_the_source_compiled(self):
        body = spec(CODE)
        other = "def handle(req):\n    return 'not the code that was sent'\n"
        status, answer = self.specialize(body + pyc.dumps(other, pyc.compile_source(other)), len(body))
        self.assertEqual(status, 200, answer)
        self.assertEqual(self.request("GET", "/x")[2], b"specialized /x")
        self.assertNotIn(api.STATS_SPECIALIZED_COMPILED, self.stats())

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_a_pyc_that_does_not_check_out_is_ignored_and_the_source_compiled(self):
        good = pyc.dumps(CODE, pyc.compile_source(CODE))
        cases = {
            "another source's hash": good[:8] + importlib.util.source_hash(b"x = 1\n") + good[16:],
            "wrong magic": (int.from_bytes(good[:2], "little") - 1).to_bytes(2, "little") + good[2:],
            "wrong flags": good[:4] + (0b01).to_bytes(4, "little") + good[8:],
            "unchecked flags": good[:4] + (0b10).to_bytes(4, "little") + good[8:],
            "a timestamp .pyc": good[:4] + bytes(12) + good[16:],
            "garbage marshal": good[:16] + b"\xff\x00garbage",
            "cut short": good[:len(good) // 2],
            "not a code object": good[:16] + marshal.dumps(("def handle(req): pass",)),
            "a damaged code object": good[:16] + damaged_code(good[16:]),
            "another filename's code": good[:16] + marshal.dumps(compile(CODE, "other.py", "exec")),
            # Another source's whole .pyc, its own hash included: the hash
            # is what binds a .pyc to the source it came with.
            "another source's .pyc": pyc.dumps("def handle(req):\n    return 'other'\n",
                                               pyc.compile_source("def handle(req):\n    return 'other'\n")),
        }
        for name, data in cases.items():
            with self.subTest(name):
                self.start()
                body = spec(CODE)
                status, answer = self.specialize(body + data, len(body))
                self.assertEqual(status, 200, answer)
                self.assertEqual(self.request("GET", "/x")[2], b"specialized /x")
                self.assertNotIn(api.STATS_SPECIALIZED_COMPILED, self.stats())
                status, answer = self.specialize(body, None)
                self.assertEqual((status, json.loads(answer)["specHash"]), (409, hashlib.sha256(body).hexdigest()))

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_a_repeated_length_is_400_and_claims_nothing(self):
        body = spec(CODE) + pyc.dumps(CODE, pyc.compile_source(CODE))
        n = len(spec(CODE))
        for values in ([n, n], [n, n + 1]):
            with self.subTest(values=values):
                client = self.raw(admin=True)
                client.send(request_bytes("POST", api.SPECIALIZE_PATH, body=body, headers=[
                    ("Authorization", "Bearer " + TOKEN)] + [(api.SPEC_LENGTH_HEADER, str(v)) for v in values]))
                self.assertEqual(client.read_response().status, 400)
        self.assertEqual(self.specialize(body, n)[0], 200)
        self.assertIs(self.stats().get(api.STATS_SPECIALIZED_COMPILED), True)

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_a_bad_length_is_400_and_claims_nothing(self):
        body = spec(CODE)
        for length in ("0", "-1", "x", str(len(body) + 1), "1" * 20, "1" * 5000, "1.5", "+1", "\u00b2"):
            with self.subTest(length):
                status, answer = self.specialize(body, length)
                self.assertEqual(status, 400)
                self.assertIn(api.SPEC_LENGTH_HEADER, json.loads(answer)["error"])
        status, answer = self.specialize(body, len(body))  # no pyc after it: compiled here
        self.assertEqual(status, 200, answer)
        self.assertNotIn(api.STATS_SPECIALIZED_COMPILED, self.stats())


if __name__ == "__main__":
    unittest.main()
