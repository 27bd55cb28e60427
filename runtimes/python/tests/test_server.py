import http.client
import json
import socket
import threading
import unittest

from runner import loader
from runner import runnerapi as api
from runner.config import Config
from tests.support import RunnerTestCase, request_bytes

SOURCE = '''
def handle(req):
    if req.path == "/raise":
        raise ZeroDivisionError("secret detail")
    if req.path == "/json":
        return {"got": req.json(), "method": req.method}
    if req.path == "/status":
        return 418, {"X-Teapot": "yes"}, "short and stout"
    if req.path == "/echo":
        return req.body
    if req.path == "/headers":
        return {"ct": req.headers.get("content-type"), "all": req.headers.get_all("x-many"),
                "missing": req.headers["x-missing"], "has": "X-Many" in req.headers}
    if req.path == "/set-header":
        return 200, {req.query["name"]: req.query["value"]}, "set"
    if req.path == "/empty":
        return 204, "this body must not be sent"
    if req.path == "/not-modified":
        return 304, {"ETag": "x"}, "neither this one"
    if req.path == "/interim":
        return 101, {"Upgrade": "evil"}, ""
    if req.path == "/object":
        return object()
    if req.path == "/set":
        return {"a": {1, 2}}
    return "hello from runner " + req.path
'''


def config(**overrides):
    values = dict(function_name="t", host="127.0.0.1", port=0, admin_port=0, timeout_seconds=0.5,
                  concurrency=4, max_body_bytes=1024)
    values.update(overrides)
    return Config(**values)


class ServerTest(RunnerTestCase):
    def setUp(self):
        self.release = threading.Event()  # lets /block calls return
        self.started = threading.Event()  # set when a /block call runs
        self.addCleanup(self.release.set)
        handle = loader.load_handler(SOURCE, "handle")

        def handler(req):
            if req.path == "/block":
                self.started.set()
                self.release.wait(10)
                return "unblocked"
            return handle(req)

        self.serve(config(concurrency=1), handler)  # one thread: a lost one would show

    def test_hello(self):
        status, headers, body = self.request("GET", "/")
        self.assertEqual((status, body), (200, b"hello from runner /"))
        self.assertEqual(headers["Content-Type"], "text/plain; charset=utf-8")
        self.assertEqual(headers["Server"], "faas-python-runner")
        self.assertIn("Date", headers)

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
        c.send(b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
        resp = c.getresponse()
        self.assertEqual((resp.status, resp.read()), (200, b"abcde"))
        self.assertEqual(self.request("GET", "/", conn=c)[0], 200)  # the trailer was consumed
        c.close()

    def test_headers_are_case_insensitive(self):
        status, _, body = self.request("GET", "/headers", headers={"Content-Type": "a/b"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"ct": "a/b", "all": None, "missing": None, "has": False})
        raw = self.raw()
        raw.send(request_bytes("GET", "/headers", [("X-Many", "1"), ("x-many", "2")]))
        self.assertEqual(json.loads(raw.read_response().body)["all"], ["1", "2"])
        raw.close()

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
        c = self.conn()
        with self.assertLogs("runner", level="ERROR"):
            status, _, body = self.request("GET", "/block", conn=c)
        self.assertEqual(status, 504)
        self.assertIn("did not answer within 0.5s", json.loads(body)["error"])
        # The late call keeps its (only) thread until it returns; then the
        # same connection and a new one both still serve.
        self.release.set()
        self.assertEqual(self.request("GET", "/", conn=c)[0], 200)
        self.assertEqual(self.request("GET", "/")[0], 200)
        c.close()

    def test_body_too_large_is_413_and_closes(self):
        status, headers, _ = self.request("POST", "/echo", body=b"x" * 2048)
        self.assertEqual(status, 413)
        self.assertEqual(headers.get("Connection"), "close")
        raw = self.raw()
        raw.send(request_bytes("POST", "/echo", [("Transfer-Encoding", "chunked")], b"800\r\n" + b"x" * 2048))
        self.assertEqual(raw.read_response().status, 413)
        self.assertTrue(raw.closed_by_peer())
        self.assertEqual(self.request("GET", "/")[0], 200)

    def test_internal_paths_are_the_functions_on_the_call_port(self):
        for path in (api.READY_PATH, api.HEALTH_PATH, api.STATS_PATH, api.SPECIALIZE_PATH, "/_/x"):
            with self.subTest(path=path):
                status, _, body = self.request("POST", path, body=b"x")
                self.assertEqual((status, body), (200, b"hello from runner " + path.encode()))

    def test_admin_port(self):
        self.assertEqual(self.request("GET", api.READY_PATH, admin=True)[:3:2], (200, b"ready"))
        self.assertEqual(self.request("GET", api.HEALTH_PATH, admin=True)[0], 200)
        status, _, body = self.request("GET", "/_/nothing", admin=True)
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["status"], 404)
        self.assertEqual(self.request("GET", "/", admin=True)[0], 404)  # never a call
        self.assertEqual(self.request("GET", api.SPECIALIZE_PATH, admin=True)[0], 405)
        self.assertEqual(self.request("POST", api.SPECIALIZE_PATH, body=b"{}", admin=True)[0], 404)  # not a pool pod

    def test_stats_count_calls_not_probes(self):
        self.request("GET", "/")
        self.request("GET", api.READY_PATH, admin=True)
        status, _, body = self.request("GET", api.STATS_PATH, admin=True)
        stats = json.loads(body)
        self.assertEqual(status, 200)
        self.assertEqual(set(stats), {"calls", "inFlight", "idleSeconds"})
        self.assertEqual((stats["calls"], stats["inFlight"]), (1, 0))
        self.assertGreaterEqual(stats["idleSeconds"], 0)
        result = {}
        t = threading.Thread(target=lambda: result.update(r=self.request("GET", "/block")))
        t.start()
        self.assertTrue(self.started.wait(5))
        stats = json.loads(self.request("GET", api.STATS_PATH, admin=True)[2])
        self.assertEqual((stats["calls"], stats["inFlight"], stats["idleSeconds"]), (2, 1, 0.0))
        self.release.set()
        t.join()
        self.assertEqual(result["r"][0], 200)

    def test_not_ready_without_code(self):
        self.server.on_loop(setattr, self.runner.calls, "handler", None)
        self.assertEqual(self.request("GET", api.READY_PATH, admin=True)[0], 503)
        self.assertEqual(self.request("GET", "/")[0], 503)

    def test_tcp_nodelay(self):
        c = self.conn()
        self.assertEqual(self.request("GET", "/", conn=c)[0], 200)
        conns = self.server.on_loop(lambda: list(self.runner.call_listener.connections))
        self.assertEqual(len(conns), 1)
        sock = conns[0]._transport.get_extra_info("socket")  # pylint: disable=protected-access
        self.assertEqual(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)
        c.close()

    def test_no_body_for_204_304_and_head(self):
        raw = self.raw()
        raw.send(request_bytes("GET", "/empty") + request_bytes("GET", "/not-modified")
                 + request_bytes("HEAD", "/status") + request_bytes("GET", "/next"))
        r204 = raw.read_response()
        self.assertEqual((r204.status, r204.header("content-length")), (204, None))
        r304 = raw.read_response()
        self.assertEqual((r304.status, r304.header("etag")), (304, "x"))
        head = raw.read_response(head_request=True)
        self.assertEqual((head.status, head.header("content-length")), (418, "15"))
        nxt = raw.read_response()
        self.assertEqual((nxt.status, nxt.body), (200, b"hello from runner /next"))
        raw.close()

    def test_invalid_answers_are_500(self):
        cases = {
            "/set-header?name=X-A&value=a%0D%0ASet-Cookie:%20x=1": "header X-A has a control character",
            "/set-header?name=X-A&value=a%0Ab": "header X-A has a control character",
            "/set-header?name=X-A&value=a%00b": "header X-A has a control character",
            "/set-header?name=X-A&value=%E2%98%83": "outside latin-1",
            "/set-header?name=X%20A&value=b": "a header name is not a valid token",
            "/set-header?name=X-A%0D%0AY&value=b": "a header name is not a valid token",
            "/interim": "status 101 is an interim answer",
            "/object": "handler returned object",
            "/set": "the answer is not JSON: Object of type set is not JSON serializable",
        }
        c = self.conn()
        for path, want in cases.items():
            with self.subTest(path=path):
                with self.assertLogs("runner", level="ERROR"):
                    status, headers, body = self.request("GET", path, conn=c)
                self.assertEqual(status, 500)
                payload = json.loads(body)
                self.assertEqual(payload["status"], 500)
                self.assertIn("function returned an invalid answer", payload["error"])
                self.assertIn(want, payload["error"])
                self.assertNotIn("Set-Cookie", headers)
                self.assertEqual(self.request("GET", "/", conn=c)[0], 200)
        status, headers, _ = self.request("GET", "/set-header?name=X-Ok&value=caf%C3%A9%09tab", conn=c)
        self.assertEqual((status, headers["X-Ok"]), (200, "caf\xe9\ttab"))  # sent and read as latin-1
        c.close()

    def test_expect_100_continue(self):
        raw = self.raw()
        raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        self.assertEqual(raw.read_response().status, 100)
        raw.send(b"hello")
        resp = raw.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"hello"))
        # Too large: refused before the body is sent, and closed.
        raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        self.assertEqual(raw.read_response().status, 413)
        self.assertTrue(raw.closed_by_peer())
        raw.close()

    def test_pipelined_requests_are_answered_in_order(self):
        raw = self.raw()
        raw.send(b"".join(request_bytes("POST", f"/echo", body=f"body {i}".encode()) for i in range(20)))
        for i in range(20):
            self.assertEqual(raw.read_response().body, f"body {i}".encode())
        raw.close()

    def test_http10_closes_unless_keep_alive(self):
        raw = self.raw()
        raw.send(b"GET /a HTTP/1.0\r\n\r\n")
        resp = raw.read_response()
        self.assertEqual((resp.status, resp.header("connection")), (200, "close"))
        self.assertTrue(raw.closed_by_peer())
        raw = self.raw()
        raw.send(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 2)
        self.assertEqual(raw.read_response().status, 200)
        self.assertEqual(raw.read_response().status, 200)
        raw.close()

    def test_connection_close_is_honoured(self):
        raw = self.raw()
        raw.send(request_bytes("GET", "/", [("Connection", "close")]))
        self.assertEqual(raw.read_response().header("connection"), "close")
        self.assertTrue(raw.closed_by_peer())

    def test_half_closed_peer_still_gets_its_answer(self):
        raw = self.raw()
        raw.send(request_bytes("GET", "/half"))
        raw.sock.shutdown(socket.SHUT_WR)
        resp = raw.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"hello from runner /half"))
        self.assertTrue(raw.closed_by_peer())

    def test_absolute_form_target(self):
        raw = self.raw()
        raw.send(b"GET http://example.com/abs?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        self.assertEqual(raw.read_response().body, b"hello from runner /abs")
        raw.close()


class DrainTest(RunnerTestCase):
    def setUp(self):
        self.release = threading.Event()
        self.started = threading.Event()
        self.addCleanup(self.release.set)

        def handler(req):
            if req.path == "/block":
                self.started.set()
                self.release.wait(10)
            return "done"

        self.serve(config(timeout_seconds=10), handler)

    def test_drain_finishes_in_flight_call_and_stops_ready(self):
        result = {}
        blocked = self.raw()
        blocked.send(request_bytes("GET", "/block"))
        self.assertTrue(self.started.wait(5))
        idle = self.raw()
        idle.send(request_bytes("GET", "/"))
        self.assertEqual(idle.read_response().status, 200)  # now an idle keep-alive connection
        admin = self.conn(admin=True)
        self.assertEqual(self.request("GET", api.READY_PATH, conn=admin)[0], 200)

        self.server.loop.call_soon_threadsafe(self.runner.stop)
        # The idle connection is closed, no new call is accepted, and the
        # runner reports not ready while the call in flight runs on.
        self.assertTrue(idle.closed_by_peer())
        self.assertEqual(self.request("GET", api.READY_PATH, conn=admin)[0], 503)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()

        self.release.set()
        resp = blocked.read_response()
        result["status"] = resp.status
        self.assertEqual((resp.status, resp.body, resp.header("connection")), (200, b"done", "close"))
        self.assertTrue(blocked.closed_by_peer())
        self.server.join()
        self.assertEqual(self.server.exit_code, 0)
        self.assertTrue(self.runner.drained)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine)):
            self.request("GET", api.READY_PATH, conn=admin)
        admin.close()


class DeadlineTestCase(RunnerTestCase):
    BIG = 32 << 20  # more than the kernel buffers on both sides hold
    DEADLINES = {}

    def setUp(self):
        def handler(req):
            return b"x" * self.BIG if req.path == "/big" else "ok"

        self.serve(config(**self.DEADLINES), handler)
        # Set whenever the runner lets go of a connection.
        self.forgotten = threading.Event()
        listener = self.runner.call_listener
        forget = listener.forget

        def forget_and_tell(conn):
            forget(conn)
            self.forgotten.set()

        listener.forget = forget_and_tell


class SlowReaderTest(DeadlineTestCase):
    DEADLINES = dict(linger_seconds=0.1, send_timeout_seconds=10)

    def test_slow_reader_gets_all_of_a_closing_answer(self):
        """Lingering starts once the answer is out, not when it was queued:
        a peer that reads late still gets every byte, then the close."""
        raw = self.raw()
        raw.send(request_bytes("GET", "/big", [("Connection", "close")]))
        self.assertFalse(self.forgotten.wait(0.5))  # five linger periods without reading
        raw.sock.settimeout(10)
        received = 0
        while True:
            chunk = raw.sock.recv(1 << 20)
            if not chunk:
                break
            received += len(chunk)
        self.assertGreater(received, self.BIG)
        self.assertTrue(self.forgotten.wait(5))


class DeadlineTest(DeadlineTestCase):
    DEADLINES = dict(idle_timeout_seconds=0.2, header_timeout_seconds=0.3, body_timeout_seconds=0.3,
                     linger_seconds=0.2, send_timeout_seconds=0.3)

    def test_peer_that_does_not_read_is_dropped(self):
        raw = self.raw()
        raw.send(request_bytes("GET", "/big"))
        self.assertTrue(self.forgotten.wait(5))  # past the send deadline
        self.assertEqual(self.server.on_loop(lambda: len(self.runner.call_listener.connections)), 0)

    def test_idle_keep_alive_is_closed(self):
        raw = self.raw()
        raw.send(request_bytes())
        self.assertEqual(raw.read_response().status, 200)
        self.assertTrue(raw.closed_by_peer(timeout=5))

    def test_incomplete_head_or_body_is_408(self):
        for data in (b"GET / HTTP/1.1\r\nHost: t\r\n", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"):
            with self.subTest(data=data):
                raw = self.raw()
                raw.send(data)
                self.assertEqual(raw.read_response().status, 408)
                self.assertTrue(raw.closed_by_peer())


class ConnectionLimitTest(RunnerTestCase):
    def setUp(self):
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.addCleanup(self.release.set)

        def handler(req):
            if req.path == "/block":
                self.started.release()
                self.release.wait(10)
            return "ok"

        self.serve(config(max_connections=2, timeout_seconds=10), handler)

    def test_busy_connections_are_never_displaced(self):
        busy = []
        for _ in range(2):
            raw = self.raw()
            raw.send(request_bytes("GET", "/block"))
            self.assertTrue(self.started.acquire(timeout=5))
            busy.append(raw)
        extra = self.raw()
        self.assertEqual(extra.read_response().status, 503)  # refused: every connection is busy
        self.release.set()
        for raw in busy:
            self.assertEqual(raw.read_response().status, 200)
            raw.close()


if __name__ == "__main__":
    unittest.main()
