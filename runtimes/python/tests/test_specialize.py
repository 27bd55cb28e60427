import hashlib
import json
import os
import threading
import unittest
from unittest import mock

from runner import server
from runner.config import Config
from runner.specialize import SPECIALIZE_PATH
from tests.support import RunnerServerTestCase

TOKEN = "s3cret-token-for-this-pod"


def spec(code="def handle(req):\n    return 'specialized ' + req.path\n", **extra):
    body = {"function": "ns/f", "handler": "handle", "code": code, "env": {"GREETING": "hi"},
            "timeoutSeconds": 5, "concurrency": 3}
    body.update(extra)
    return json.dumps(body).encode()


class PoolModeTest(RunnerServerTestCase):
    def setUp(self):
        config = Config(port=0, mode="pool", specialize_token_sha256=hashlib.sha256(TOKEN.encode()).hexdigest())
        self.serve(server.Runner(config))

    def request(self, method, path, body=None, token=None):  # pylint: disable=arguments-renamed
        headers = {"Authorization": "Bearer " + token} if token is not None else {}
        status, _, body = super().request(method, path, body=body, headers=headers)
        return status, body

    def test_ready_before_specialization_but_calls_wait_for_code(self):
        self.assertEqual(self.request("GET", server.READY_PATH)[0], 200)
        self.assertEqual(self.request("GET", "/")[0], 503)

    @mock.patch.dict(os.environ, {}, clear=False)
    def test_one_specialization_then_serves(self):
        status, body = self.request("POST", SPECIALIZE_PATH, spec(), TOKEN)
        self.assertEqual(status, 200, body)
        self.assertGreater(json.loads(body)["specializeMicros"], 0)
        self.assertEqual(self.request("GET", "/x"), (200, b"specialized /x"))
        self.assertEqual(os.environ.get("GREETING"), "hi")
        self.assertEqual(self.runner.config.concurrency, 3)
        # A second specialization, even with the right token, is refused;
        # the answer tells which specialization the pod took.
        status, body = self.request("POST", SPECIALIZE_PATH, spec("def handle(req):\n    return 'evil'\n"), TOKEN)
        self.assertEqual(status, 409)
        self.assertEqual(json.loads(body)["specHash"], hashlib.sha256(spec()).hexdigest())
        self.assertEqual(self.request("GET", "/x"), (200, b"specialized /x"))
        stats = json.loads(self.request("GET", server.STATS_PATH)[1])
        self.assertIn("specializeMicros", stats)

    def test_wrong_or_missing_token_is_refused_and_does_not_claim(self):
        for token in [None, "", "guess", hashlib.sha256(TOKEN.encode()).hexdigest()]:
            with self.subTest(token=token):
                status, _ = self.request("POST", SPECIALIZE_PATH, spec(), token)
                self.assertEqual(status, 403)
        self.assertEqual(self.request("POST", SPECIALIZE_PATH, spec(), TOKEN)[0], 200)

    def test_concurrent_claims_have_one_winner(self):
        results = []
        lock = threading.Lock()

        def claim():
            status, _ = self.request("POST", SPECIALIZE_PATH, spec(), TOKEN)
            with lock:
                results.append(status)

        threads = [threading.Thread(target=claim) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [200] + [409] * 7)

    def test_bad_code_is_422_and_spends_the_pod(self):
        with mock.patch("os._exit") as exit_:
            with self.assertLogs("runner", level="ERROR"):
                status, body = self.request("POST", SPECIALIZE_PATH, spec("def handle(req)\n"), TOKEN)
            self.assertEqual(status, 422)
            self.assertIn("SyntaxError", json.loads(body)["error"])
            self.assertEqual(self.request("POST", SPECIALIZE_PATH, spec(), TOKEN)[0], 409)
            self.assertEqual(self.request("GET", server.READY_PATH)[0], 503)
            threading.Event().wait(0.3)
            exit_.assert_called_once_with(1)

    def test_deployment_mode_has_no_specialization(self):
        runner = server.Runner(Config(port=0))
        self.assertIsNone(runner.specializer)


if __name__ == "__main__":
    unittest.main()
