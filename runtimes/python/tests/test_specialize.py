import hashlib
import json
import os
import tempfile
import threading
import unittest
from unittest import mock

from runner import runnerapi as api
from runner.config import Config
from runner.specialize import SpecializeError, parse
from tests.support import RunnerTestCase

TOKEN = "s3cret-token-for-this-pod"


def spec(code="def handle(req):\n    return 'specialized ' + req.path\n", **extra):
    body = {"function": "ns/f", "handler": "handle", "code": code, "env": {"GREETING": "hi"},
            "timeoutSeconds": 5, "concurrency": 3}
    body.update(extra)
    return json.dumps(body).encode()


class PoolModeTest(RunnerTestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.termination_log = os.path.join(tmp.name, "termination-log")
        config = Config(host="127.0.0.1", port=0, admin_port=0, mode="pool", termination_log=self.termination_log,
                        specialize_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())
        self.serve(config)

    def call(self, method, path, body=None, token=None, admin=False):
        headers = {"Authorization": "Bearer " + token} if token is not None else {}
        status, _, body = self.request(method, path, body=body, headers=headers, admin=admin)
        return status, body

    def specialize(self, body, token=TOKEN):
        return self.call("POST", api.SPECIALIZE_PATH, body, token, admin=True)

    def test_ready_before_specialization_but_calls_wait_for_code(self):
        self.assertEqual(self.call("GET", api.READY_PATH, admin=True)[0], 200)
        self.assertEqual(self.call("GET", "/")[0], 503)

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_one_specialization_then_serves(self):
        status, body = self.specialize(spec())
        self.assertEqual(status, 200, body)
        self.assertEqual(set(json.loads(body)), {"specializeMicros"})
        self.assertGreater(json.loads(body)["specializeMicros"], 0)
        self.assertEqual(self.call("GET", "/x"), (200, b"specialized /x"))
        self.assertEqual(os.environ.get("GREETING"), "hi")
        self.assertEqual(self.runner.calls.concurrency, 3)
        self.assertEqual(self.runner.calls.timeout_seconds, 5)
        self.assertEqual(self.runner.calls.function_name, "ns/f")
        # A second specialization, even with the right token, is refused;
        # the answer tells which specialization the pod took.
        status, body = self.specialize(spec("def handle(req):\n    return 'evil'\n"))
        self.assertEqual(status, 409)
        self.assertEqual(json.loads(body), {"error": "this pod is already specialized", "status": 409,
                                            "specHash": hashlib.sha256(spec()).hexdigest()})
        self.assertEqual(self.call("GET", "/x"), (200, b"specialized /x"))
        stats = json.loads(self.call("GET", api.STATS_PATH, admin=True)[1])
        self.assertEqual(set(stats), {"calls", "inFlight", "idleSeconds", "specializeMicros"})
        self.assertEqual(self.call("GET", api.READY_PATH, admin=True)[0], 200)

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_the_code_loads_on_a_thread_started_with_the_pod(self):
        # A thread started in the specialization held the loop in
        # Thread.start() until the new thread let go of the GIL, that is
        # until it had compiled the code: the loader waits from the start.
        self.assertIn("specialize", [t.name for t in threading.enumerate()])
        started = []
        real_start = threading.Thread.start

        def start(thread):
            started.append(thread.name)
            real_start(thread)

        with mock.patch.object(threading.Thread, "start", start):
            self.assertEqual(self.specialize(spec())[0], 200)
        self.assertEqual(started, [])
        self.assertEqual(self.call("GET", "/x"), (200, b"specialized /x"))

    def test_specialize_is_not_reachable_on_the_call_port(self):
        self.assertEqual(self.call("POST", api.SPECIALIZE_PATH, spec(), TOKEN)[0], 503)  # a call, no code yet
        self.assertEqual(self.specialize(spec())[0], 200)

    def test_wrong_or_missing_token_is_refused_and_does_not_claim(self):
        for token in [None, "", "guess", hashlib.sha256(TOKEN.encode()).hexdigest()]:
            with self.subTest(token=token):
                status, _ = self.specialize(spec(), token)
                self.assertEqual(status, 403)
        self.assertEqual(self.specialize(spec())[0], 200)

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_malformed_specialization_is_400_and_does_not_claim(self):
        for body in [b"{nope", b"[]", json.dumps({"code": 1}).encode(), spec(env={"A": 1}),
                     spec(concurrency="many"), spec(env={"A=B": "c"})]:
            with self.subTest(body=body):
                self.assertEqual(self.specialize(body)[0], 400)
        self.assertEqual(self.specialize(spec())[0], 200)

    def test_concurrent_claims_have_one_winner(self):
        results = []
        lock = threading.Lock()

        def claim():
            status, _ = self.specialize(spec())
            with lock:
                results.append(status)

        threads = [threading.Thread(target=claim) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [200] + [409] * 7)

    def test_bad_code_is_422_spends_the_pod_and_exits_3(self):
        with self.assertLogs("runner", level="ERROR"):
            status, body = self.specialize(spec("def handle(req)\n"))
        self.assertEqual(status, 422)
        self.assertIn("SyntaxError", json.loads(body)["error"])
        self.server.join()
        self.assertEqual(self.server.exit_code, api.LOAD_FAILED_EXIT_CODE)
        with open(self.termination_log, encoding="utf-8") as f:
            self.assertIn("SyntaxError", f.read())

    def test_a_module_raising_a_base_exception_is_answered_422(self):
        # KeyboardInterrupt is not an Exception: it must still end the
        # claim with an answer, not leave the pod specializing for ever.
        with self.assertLogs("runner", level="ERROR"):
            status, body = self.specialize(spec("raise KeyboardInterrupt('at import')\n"))
        self.assertEqual(status, 422)
        self.assertIn("KeyboardInterrupt", json.loads(body)["error"])
        self.server.join()
        self.assertEqual(self.server.exit_code, api.LOAD_FAILED_EXIT_CODE)

    def test_the_collector_runs_while_the_module_loads(self):
        code = ("import gc\nENABLED = gc.isenabled()\n"
                "def handle(req):\n    return 'gc on' if ENABLED else 'gc off'\n")
        status, _ = self.specialize(spec(code))
        self.assertEqual(status, 200)
        self.assertEqual(self.call("GET", "/"), (200, b"gc on"))


class ParseTest(unittest.TestCase):
    def test_defaults(self):
        s = parse(json.dumps({"code": "x = 1"}).encode())
        self.assertEqual((s.function, s.handler_name, s.env, s.timeout_seconds, s.concurrency),
                         ("", "handle", {}, 30.0, 10))

    def test_rejects(self):
        for body in [b"", b"null", b'{"code": "x", "timeoutSeconds": -1}', b'{"code": "x", "env": []}']:
            with self.subTest(body=body):
                with self.assertRaises(SpecializeError) as ctx:
                    parse(body)
                self.assertEqual(ctx.exception.status, 400)


class DeploymentModeTest(RunnerTestCase):
    def test_deployment_mode_has_no_specialization(self):
        self.serve(Config(host="127.0.0.1", port=0, admin_port=0), lambda req: "x")
        self.assertIsNone(self.runner.specializer)
        self.assertEqual(self.request("POST", api.SPECIALIZE_PATH, body=spec(), admin=True)[0], 404)


if __name__ == "__main__":
    unittest.main()


class FailedSpecializerTest(unittest.TestCase):
    def test_a_spec_that_did_not_load_is_422_again_never_409(self):
        # A second gateway replica sending the same spec must learn that it
        # cannot load, not that the pod serves it already.
        from runner.specialize import Specializer
        s = Specializer(hashlib.sha256(TOKEN.encode()).hexdigest())
        auth = api.AUTHORIZATION_SCHEME + TOKEN
        claimed = s.claim(auth, spec("def handle(req)\n"))
        with self.assertRaises(SpecializeError) as first:
            s.load(claimed)
        self.assertEqual(first.exception.status, 422)
        with self.assertRaises(SpecializeError) as again:
            s.claim(auth, spec("def handle(req)\n"))
        self.assertEqual(again.exception.status, 422)
        self.assertIn("SyntaxError", str(again.exception))
