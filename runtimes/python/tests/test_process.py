"""The runner as the pod runs it: python -m runner, its exit codes, its
termination log, signals, and what its function can see of its process."""

import hashlib
import http.client
import json
import os
import signal
import threading
import unittest

from runner import runnerapi as api
from tests.support import RunnerProcess
from tests.test_contract_file import CONTRACT

TOKEN = "process-test-token"
TOKEN_HASH = hashlib.sha256(TOKEN.encode()).hexdigest()


def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        resp = c.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        c.close()


class ProcessTestCase(unittest.TestCase):
    def start(self, code=None, env=None):
        proc = RunnerProcess(code, env)
        self.addCleanup(proc.stop)
        return proc

    def termination_message(self, proc):
        with open(proc.termination_log, encoding="utf-8") as f:
            return f.read()


class LoadFailureTest(ProcessTestCase):
    def test_code_that_does_not_load_exits_3_with_the_reason(self):
        cases = {"syntax": ("def handle(req)\n", "SyntaxError"),
                 "import": ("raise RuntimeError('boom')\n", "RuntimeError while loading: boom"),
                 "handler": ("def other(req): pass\n", "handler 'handle' is not defined")}
        for name, (code, reason) in cases.items():
            with self.subTest(name=name):
                proc = self.start(code)
                self.assertEqual(proc.wait_exit(), CONTRACT["loadFailedExitCode"])
                self.assertIn(reason, self.termination_message(proc))

    def test_missing_code_file_is_a_load_failure(self):
        proc = self.start(env={"FAAS_CODE_PATH": "/nonexistent/function.py"})
        self.assertEqual(proc.wait_exit(), api.LOAD_FAILED_EXIT_CODE)
        self.assertIn("cannot load /nonexistent/function.py", self.termination_message(proc))

    def test_bad_settings_are_not_a_load_failure(self):
        proc = self.start("def handle(req): return 1\n", {"FAAS_TIMEOUT_SECONDS": "soon"})
        self.assertEqual(proc.wait_exit(), 2)
        self.assertIn("FAAS_TIMEOUT_SECONDS", self.termination_message(proc))


SNOOP = '''
import os

def handle(req):
    with open("/proc/self/environ", "rb") as f:
        environ = f.read()
    with open("/proc/self/cmdline", "rb") as f:
        cmdline = f.read()
    return {"environ": environ.decode("latin-1"), "cmdline": cmdline.decode("latin-1"),
            "os_environ": dict(os.environ), "greeting": os.environ.get("GREETING")}
'''


class PoolProcessTest(ProcessTestCase):
    def specialize(self, proc, code):
        body = json.dumps({"function": "ns/snoop", "handler": "handle", "code": code, "env": {"GREETING": "hi"},
                           "timeoutSeconds": 5, "concurrency": 2}).encode()
        return request(proc.admin_port, "POST", api.SPECIALIZE_PATH, body,
                       {"Authorization": api.AUTHORIZATION_SCHEME + TOKEN})

    def test_token_hash_is_not_in_the_process_environment(self):
        proc = self.start(env={api.ENV_MODE: api.MODE_POOL, api.ENV_SPECIALIZE_TOKEN_SHA256: TOKEN_HASH})
        proc.wait_serving()
        with open(f"/proc/{proc.proc.pid}/environ", "rb") as f:
            self.assertNotIn(TOKEN_HASH.encode(), f.read())
        status, _, body = self.specialize(proc, SNOOP)
        self.assertEqual(status, 200, body)
        status, _, body = request(proc.port, "GET", "/")
        self.assertEqual(status, 200, body)
        seen = json.loads(body)
        self.assertEqual(seen["greeting"], "hi")  # the specialization's env did arrive
        for where in ("environ", "cmdline"):
            self.assertNotIn(TOKEN_HASH, seen[where], where)
            self.assertNotIn(api.ENV_SPECIALIZE_TOKEN_SHA256, seen[where], where)
        self.assertNotIn(TOKEN_HASH, json.dumps(seen["os_environ"]))
        # The pod still knows its token: a second claim is refused, not forbidden.
        self.assertEqual(self.specialize(proc, SNOOP)[0], 409)

    def test_failed_specialization_exits_3_with_the_reason(self):
        proc = self.start(env={api.ENV_MODE: api.MODE_POOL, api.ENV_SPECIALIZE_TOKEN_SHA256: TOKEN_HASH})
        proc.wait_serving()
        status, headers, body = self.specialize(proc, "def handle(req)\n")
        self.assertEqual((status, headers.get("Connection")), (422, "close"))
        self.assertIn("SyntaxError", json.loads(body)["error"])
        self.assertEqual(proc.wait_exit(), api.LOAD_FAILED_EXIT_CODE)
        self.assertIn("SyntaxError", self.termination_message(proc))


class SignalTest(ProcessTestCase):
    def test_sigterm_lets_the_call_in_flight_finish_then_exits_0(self):
        fifo_dir = self.start().dir.name  # a scratch directory that is cleaned up
        started, release = os.path.join(fifo_dir, "started"), os.path.join(fifo_dir, "release")
        os.mkfifo(started)
        os.mkfifo(release)
        code = f'''
def handle(req):
    open({started!r}, "w").close()   # tells the test the call runs
    open({release!r}).read()         # waits for the test
    return "finished"
'''
        proc = self.start(code).wait_serving()
        result = {}
        t = threading.Thread(target=lambda: result.update(r=request(proc.port, "GET", "/")))
        t.start()
        with open(started, encoding="utf-8") as f:
            f.read()  # returns once the handler opened and closed it
        proc.proc.send_signal(signal.SIGTERM)
        proc.wait_log("Draining: 1 calls in flight")
        with open(release, "w", encoding="utf-8"):
            pass
        t.join(10)
        status, headers, body = result["r"]
        self.assertEqual((status, body, headers.get("Connection")), (200, b"finished", "close"))
        self.assertEqual(proc.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
