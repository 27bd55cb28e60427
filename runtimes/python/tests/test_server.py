import http.client
import json
import threading
import time
import unittest

from tests.support import RunnerServerTestCase

from runner import loader, server
from runner.config import Config

SOURCE = '''
import time

def handle(req):
    if req.path == "/raise":
        raise ZeroDivisionError("secret detail")
    if req.path == "/slow":
        time.sleep(float(req.query.get("s", "1")))
        return "slow done"
    if req.path == "/json":
        return {"got": req.json(), "method": req.method}
    if req.path == "/status":
        return 418, {"X-Teapot": "yes"}, "short and stout"
    if req.path == "/echo":
        return req.body
    return "hello from runner"
'''


class ServerTest(RunnerServerTestCase):
    def setUp(self):
        self.config = Config(function_name="t", port=0, timeout_seconds=0.5, concurrency=4,
                             max_body_bytes=1024)
        self.serve(server.Runner(self.config, loader.load_handler(SOURCE, "handle")))

    def test_hello(self):
        status, headers, body = self.request("GET", "/")
        self.assertEqual((status, body), (200, b"hello from runner"))
        self.assertEqual(headers["Content-Type"], "text/plain; charset=utf-8")

    def test_keep_alive_reuses_connection(self):
        c = self.conn()
        for _ in range(3):
            status, headers, _ = self.request("GET", "/", conn=c)
            self.assertEqual(status, 200)
            self.assertNotEqual(headers.get("Connection"), "close")
        self.assertIsNotNone(c.sock)  # still the same open socket
        c.close()

    def test_json_echo(self):
        status, _, body = self.request("POST", "/json", body=b'{"a": 1}')
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"got": {"a": 1}, "method": "POST"})

    def test_chunked_body(self):
        c = self.conn()
        c.putrequest("POST", "/echo")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        c.send(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        resp = c.getresponse()
        self.assertEqual((resp.status, resp.read()), (200, b"abcde"))
        c.close()

    def test_bad_json_is_400(self):
        status, _, body = self.request("POST", "/json", body=b"{x")
        self.assertEqual(status, 400)
        self.assertIn("not valid JSON", json.loads(body)["error"])

    def test_status_and_headers(self):
        status, headers, body = self.request("GET", "/status")
        self.assertEqual((status, headers["X-Teapot"], body), (418, "yes", b"short and stout"))

    def test_raise_gives_500_without_traceback_and_runner_lives_on(self):
        with self.assertLogs("runner", level="ERROR") as logs:
            status, headers, body = self.request("GET", "/raise")
        self.assertEqual(status, 500)
        self.assertEqual(headers["Content-Type"], "application/json")
        payload = json.loads(body)
        self.assertEqual(payload, {"error": "function raised ZeroDivisionError", "status": 500})
        self.assertNotIn(b"secret detail", body)
        self.assertIn("Traceback", "\n".join(logs.output))
        self.assertEqual(self.request("GET", "/")[0], 200)

    def test_timeout_gives_504_and_runner_lives_on(self):
        with self.assertLogs("runner", level="ERROR"):
            status, _, body = self.request("GET", "/slow?s=2")
        self.assertEqual(status, 504)
        self.assertIn("did not answer within 0.5s", json.loads(body)["error"])
        self.assertEqual(self.request("GET", "/")[0], 200)

    def test_body_too_large_is_413(self):
        status, _, _ = self.request("POST", "/echo", body=b"x" * 2048)
        self.assertEqual(status, 413)

    def test_ready_and_health(self):
        self.assertEqual(self.request("GET", server.READY_PATH)[0], 200)
        self.assertEqual(self.request("GET", server.HEALTH_PATH)[0], 200)
        self.assertEqual(self.request("GET", "/_/nothing")[0], 404)

    def test_stats_count_calls_not_probes(self):
        self.request("GET", "/")
        self.request("GET", server.READY_PATH)
        status, _, body = self.request("GET", server.STATS_PATH)
        stats = json.loads(body)
        self.assertEqual(status, 200)
        self.assertEqual((stats["calls"], stats["inFlight"]), (1, 0))
        self.assertGreaterEqual(stats["idleSeconds"], 0)

        def slow_call():
            self.request("GET", "/slow?s=0.3")

        t = threading.Thread(target=slow_call)
        t.start()
        time.sleep(0.1)
        stats = json.loads(self.request("GET", server.STATS_PATH)[2])
        self.assertEqual((stats["calls"], stats["inFlight"], stats["idleSeconds"]), (2, 1, 0.0))
        t.join()

    def test_not_ready_without_code(self):
        self.runner.handler = None
        self.assertEqual(self.request("GET", server.READY_PATH)[0], 503)
        self.assertEqual(self.request("GET", "/")[0], 503)

    def test_drain_finishes_in_flight_call_and_stops_ready(self):
        results = {}

        def slow_call():
            results["slow"] = self.request("GET", "/slow?s=0.3")

        t = threading.Thread(target=slow_call)
        t.start()
        idle = self.conn()
        self.assertEqual(self.request("GET", "/", conn=idle)[0], 200)  # now an idle keep-alive
        time.sleep(0.1)
        self.assertFalse(self.runner.drain(timeout=0.01))  # the slow call is still running
        self.assertTrue(self.runner.drain(timeout=2))
        t.join()
        self.assertEqual(results["slow"][0], 200)
        self.assertEqual(results["slow"][1].get("Connection"), "close")
        self.assertFalse(self.runner.ready)
        # The idle keep-alive connection was closed by the drain.
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine)):
            self.request("GET", "/", conn=idle)
        idle.close()


if __name__ == "__main__":
    unittest.main()
