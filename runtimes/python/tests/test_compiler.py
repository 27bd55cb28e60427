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
import tempfile
import threading
import unittest
from unittest import mock

from runner import compiler
from runner import pyc
from runner import runnerapi as api
from runner.config import Config
from tests.support import RunnerTestCase
from tests.test_specialize import TOKEN, spec

CODE = "def handle(req):\n    return 'specialized ' + req.path\n"


def settings(**kw):
    s = compiler.Settings({})
    s.port = 0
    for k, v in kw.items():
        setattr(s, k, v)
    return s


class CompileIsolatedTest(unittest.TestCase):
    def test_the_pyc_is_what_the_runner_would_compile(self):
        out = compiler.compile_isolated(CODE.encode(), settings())
        # Code objects compare by value (marshal's bytes also depend on
        # reference counts).
        self.assertEqual(marshal.loads(out[16:]), compile(CODE, "function.py", "exec"))
        self.assertEqual(out[:4], importlib.util.MAGIC_NUMBER)
        self.assertIsNotNone(pyc.loads(CODE, out))

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
            compiler.compile_isolated(source, settings(timeout=0.001))
        self.assertEqual(ctx.exception.status, 503)
        # The next compile is served.
        self.assertIsNotNone(compiler.compile_isolated(CODE.encode(), settings()))

    def test_a_compile_past_its_memory_is_503(self):
        source = ("x = [" + "1, " * 200_000 + "]\n").encode()
        with self.assertRaises(compiler.Refused) as ctx:
            compiler.compile_isolated(source, settings(memory=64 << 20))
        self.assertEqual(ctx.exception.status, 503)

    def test_the_child_holds_no_descriptor_but_its_pipe_and_cannot_fork(self):
        # A descriptor of the parent (a listening socket, a client's
        # connection) is closed in the child before the source is parsed.
        read_end, write_end = os.pipe()
        self.addCleanup(os.close, read_end)
        self.addCleanup(os.close, write_end)
        seen = {}

        def probe(source):
            fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
            # RLIMIT_NPROC 0 refuses fork() to a user without
            # CAP_SYS_RESOURCE, as the compiler's pod runs; root (this
            # test, perhaps) is exempt, so the limit itself is checked.
            raise ValueError(f"fds={fds} fork={resource.getrlimit(resource.RLIMIT_NPROC)}")

        with mock.patch.object(pyc, "compile_source", probe):
            with self.assertRaises(compiler.Refused) as ctx:
                compiler.compile_isolated(b"x = 1\n", settings())
        message = str(ctx.exception)
        seen["fds"] = json.loads(message.split("fds=")[1].split(" fork=")[0])
        self.assertNotIn(read_end, seen["fds"][1:], message)
        self.assertNotIn(write_end, seen["fds"][1:], message)
        self.assertEqual(len(seen["fds"]), 2, message)  # its result pipe and listdir's own
        self.assertIn("fork=(0, 0)", message)


class CompilerServerTest(unittest.TestCase):
    def setUp(self):
        self.server = compiler.Server(("127.0.0.1", 0), settings())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    def post(self, body, path=api.COMPILE_PATH, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.server.server_address[1], timeout=10)
        self.addCleanup(c.close)
        c.request("POST", path, body=body, headers=headers or {})
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
            self.assertRegex(s.recv(64), rb"^HTTP/1\.[01] 413 ")
        self.assertEqual(self.post(CODE.encode(), path="/other")[0], 404)
        self.assertEqual(self.post(CODE.encode())[0], 200)

    def test_no_content_length_is_411(self):
        def chunks():
            yield CODE.encode()
        status, _, _ = self.post(chunks(), headers={"Transfer-Encoding": "chunked"})
        self.assertEqual(status, 411)


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
    def test_a_bad_length_is_400_and_claims_nothing(self):
        body = spec(CODE)
        for length in ("0", "-1", "x", str(len(body) + 1), "1" * 20, "1.5"):
            with self.subTest(length):
                self.assertEqual(self.specialize(body, length)[0], 400)
        status, answer = self.specialize(body, len(body))  # no pyc after it: compiled here
        self.assertEqual(status, 200, answer)
        self.assertNotIn(api.STATS_SPECIALIZED_COMPILED, self.stats())


if __name__ == "__main__":
    unittest.main()
