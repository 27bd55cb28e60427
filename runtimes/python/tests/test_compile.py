"""/_/compile: an idle pool pod compiles code for later specializations,
and a specialization carrying that bytecode runs it."""

import base64
import hashlib
import json
import marshal
import os
import tempfile
import threading
import time
import unittest
from unittest import mock

from runner import loader
from runner import runnerapi as api
from runner.config import Config
from tests.support import RunnerTestCase
from tests.test_specialize import TOKEN, spec

CODE = "import os\n\ndef handle(req):\n    return os.environ.get('GREETING', '') + ' ' + req.path + ' ' + str(1 / len(req.path) > 0)\n"


def with_bytecode(body, tag, bytecode_b64):
    """body with the bytecode members last, as the gateway writes them."""
    return body[:-1] + b',"bytecode":"' + bytecode_b64.encode() + b'","bytecodeTag":"' + tag.encode() + b'"}'


class CompileTest(RunnerTestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.termination_log = os.path.join(tmp.name, "termination-log")
        self.serve(Config(host="127.0.0.1", port=0, admin_port=0, mode="pool", termination_log=self.termination_log,
                          specialize_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest()))

    def post(self, path, body, token=TOKEN):
        headers = {"Authorization": api.AUTHORIZATION_SCHEME + token} if token is not None else {}
        return self.request("POST", path, body=body, headers=headers, admin=True)

    def compile(self, code=CODE, token=TOKEN, **extra):
        status, _, body = self.post(api.COMPILE_PATH, json.dumps({"code": code, **extra}).encode(), token)
        return status, json.loads(body)

    def specialize(self, body):
        status, _, answer = self.post(api.SPECIALIZE_PATH, body)
        return status, json.loads(answer)

    def test_answers_the_tag_and_the_marshalled_code_and_stays_idle(self):
        status, result = self.compile(handler="handle")
        self.assertEqual(status, 200, result)
        self.assertEqual(set(result), {api.COMPILE_TAG, api.COMPILE_BYTECODE})
        self.assertEqual(result[api.COMPILE_TAG], loader.BYTECODE_TAG)
        code = marshal.loads(base64.b64decode(result[api.COMPILE_BYTECODE]))
        self.assertEqual(code.co_filename, "function.py")
        # Nothing of it ran, and the pod is still claimable.
        self.assertNotIn("handle", globals())
        self.assertTrue(self.runner.specializer.idle)
        self.assertEqual(self.request("GET", api.READY_PATH, admin=True)[0], 200)

    def test_needs_the_pods_token_and_post(self):
        for token in [None, "", "guess"]:
            with self.subTest(token=token):
                self.assertEqual(self.compile(token=token)[0], 403)
        self.assertEqual(self.request("GET", api.COMPILE_PATH, admin=True)[0], 405)
        # Not on the call port: there, every path is the function's.
        self.assertEqual(self.request("POST", api.COMPILE_PATH, body=b'{"code": ""}', headers={
            "Authorization": api.AUTHORIZATION_SCHEME + TOKEN})[0], 503)

    def test_malformed_too_long_and_bad_code(self):
        for body in [b"{nope", b"[]", b'{"code": 1}']:
            with self.subTest(body=body):
                self.assertEqual(self.post(api.COMPILE_PATH, body)[0], 400)
        self.assertEqual(self.compile("x = 1\n" + "#" * api.MAX_CODE_LENGTH)[0], 413)
        status, result = self.compile("def handle(req)\n")
        self.assertEqual(status, 422)
        self.assertIn("SyntaxError", result["error"])
        self.assertEqual(self.compile("x = 1\0\n")[0], 422)
        self.assertEqual(self.compile("x = " + "-" * 100000 + "1\n")[0], 422)
        # None of these spent the pod.
        self.assertTrue(self.runner.specializer.idle)
        self.assertEqual(self.compile()[0], 200)

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_refused_once_specialized(self):
        self.assertEqual(self.specialize(spec(CODE))[0], 200)
        status, result = self.compile()
        self.assertEqual(status, 409)
        self.assertNotIn(api.COMPILE_BYTECODE, result)

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_specializing_with_the_bytecode_gives_the_same_answers_and_spec_hash(self):
        _, result = self.compile()
        body = with_bytecode(spec(CODE), result[api.COMPILE_TAG], result[api.COMPILE_BYTECODE])
        real_compile = loader.compile_source
        with mock.patch.object(loader, "compile_source", side_effect=real_compile) as compiled:
            status, answer = self.specialize(body)
        self.assertEqual(status, 200, answer)
        compiled.assert_not_called()
        self.assertEqual(self.request("GET", "/x")[2], b"hi /x True")
        # A second replica's claim with or without bytecode is the same spec.
        for other in (spec(CODE), body):
            status, conflict = self.specialize(other)
            self.assertEqual(status, 409)
            self.assertEqual(conflict[api.SPECIALIZE_CONFLICT_SPEC_HASH], hashlib.sha256(spec(CODE)).hexdigest())

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_bytecode_of_another_tag_is_not_run(self):
        evil = base64.b64encode(marshal.dumps(compile("def handle(req):\n    return 'evil'\n", "function.py", "exec")))
        body = with_bytecode(spec(CODE), "0000-other-O0", evil.decode())
        self.assertEqual(self.specialize(body)[0], 200)
        self.assertEqual(self.request("GET", "/x")[2], b"hi /x True")

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_garbage_bytecode_with_the_right_tag_compiles_the_source(self):
        # marshal raises for garbage: the pod logs it and compiles the
        # source it got with it, and lives on.
        for garbage in [b"\xff\x00garbage", marshal.dumps(42), b""]:
            with self.subTest(garbage=garbage):
                with self.assertLogs("runner", level="WARNING") as logs:
                    handler = loader.load_handler(CODE, "handle", bytecode=garbage)
                self.assertIn("compiling the source", "\n".join(logs.output))
                self.assertTrue(callable(handler))
        body = with_bytecode(spec(CODE), loader.BYTECODE_TAG, base64.b64encode(b"\xe3garbage").decode())
        with self.assertLogs("runner", level="WARNING"):
            status, answer = self.specialize(body)
        self.assertEqual(status, 200, answer)
        self.assertEqual(self.request("GET", "/x")[2], b"hi /x True")

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_bytecode_that_is_not_base64_compiles_the_source(self):
        body = with_bytecode(spec(CODE), loader.BYTECODE_TAG, "not*base64")
        self.assertEqual(self.specialize(body)[0], 200)
        self.assertEqual(self.request("GET", "/x")[2], b"hi /x True")

    def test_bytecode_without_a_tag_is_400_and_claims_nothing(self):
        body = spec(CODE)[:-1] + b', "bytecode": 5}'
        self.assertEqual(self.specialize(body)[0], 400)
        self.assertTrue(self.runner.specializer.idle)

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_a_claim_during_a_compile_waits_for_it_and_wins(self):
        # Both run on the loop: the claim waits for a compile under way,
        # never the other way round, and a compile after it is refused.
        large = "".join(f"def f{i}(x):\n    return [x * {i} for _ in range(3)]\n" for i in range(3000))
        out = {}

        def compile_large():
            out["compile"] = self.compile(large)[0]

        t = threading.Thread(target=compile_large)
        t.start()
        time.sleep(0.002)
        start = time.perf_counter()
        status, answer = self.specialize(spec(CODE))
        waited = time.perf_counter() - start
        t.join()
        self.assertEqual(status, 200, answer)
        self.assertIn(out["compile"], (200, 409))
        self.assertEqual(self.compile()[0], 409)
        self.assertEqual(self.request("GET", "/x")[2], b"hi /x True")
        self.assertLess(waited, 5)


class DeploymentModeCompileTest(RunnerTestCase):
    def test_deployment_mode_does_not_compile(self):
        self.serve(Config(host="127.0.0.1", port=0, admin_port=0), lambda req: "x")
        self.assertEqual(self.request("POST", api.COMPILE_PATH, body=b'{"code": ""}', admin=True)[0], 404)


if __name__ == "__main__":
    unittest.main()
