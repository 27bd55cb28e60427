"""Hostile clients against a real runner process, over raw sockets.

Each test checks two things: what the hostile client gets (refused,
closed, never a desynchronized or injected answer), and that a normal
caller is served right afterwards, on a fresh connection and, where the
connection may stay open, with the next request on the same connection —
the way the gateway reuses its pooled connections.

Set FAAS_TEST_RUNNER_ROOT to a directory holding another `runner` package
(e.g. the previous commit's) to run these against it.
"""

import json
import select
import socket
import time
import unittest

from tests.support import RawClient, RunnerProcess, request_bytes

CODE = '''
def handle(req):
    if req.path == "/set-header":
        return 200, {req.query["name"]: req.query["value"]}, "set"
    if req.path == "/empty":
        return 204, "POISON"
    if req.path == "/not-modified":
        return 304, {"ETag": "e"}, "POISON"
    if req.path == "/interim":
        return 101, {"Upgrade": "websocket", "Connection": "Upgrade"}, ""
    return {"path": req.path, "method": req.method, "body": req.text}
'''

#: Short deadlines and limits; an older runner ignores them.
ENV = {
    "FAAS_HTTP_HEADER_TIMEOUT_SECONDS": "0.5",
    "FAAS_HTTP_BODY_TIMEOUT_SECONDS": "0.5",
    "FAAS_HTTP_IDLE_TIMEOUT_SECONDS": "1",
    "FAAS_HTTP_LINGER_SECONDS": "0.5",
    "FAAS_HTTP_MAX_REQUEST_LINE_BYTES": "1024",
    "FAAS_HTTP_MAX_HEADER_BYTES": "4096",
}
#: How long a test waits for what the deadlines above should cause.
PATIENCE = 3.0

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"


class HostileTestCase(unittest.TestCase):
    ENV = ENV

    @classmethod
    def setUpClass(cls):
        cls.proc = RunnerProcess(CODE, cls.ENV)
        try:
            cls.proc.wait_serving()
        except BaseException:
            cls.proc.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proc.stop()

    def client(self, port=None):
        c = RawClient(port or self.proc.port, timeout=PATIENCE)
        self.addCleanup(c.close)
        return c

    def assert_answer(self, resp, path, method="GET"):
        self.assertEqual(resp.status, 200, resp)
        got = json.loads(resp.body)
        self.assertEqual((got["path"], got["method"]), (path, method), resp)
        return got

    def assert_normal_caller_served(self, same=None):
        """A fresh connection is served right; so is the next request on
        `same`, a connection the runner should have kept open."""
        for c in ([same] if same else []) + [self.client()]:
            c.send(request_bytes("GET", "/normal"))
            self.assert_answer(c.read_response(), "/normal")
            c.send(request_bytes("GET", "/normal-again"))
            self.assert_answer(c.read_response(), "/normal-again")

    def assert_refused(self, data, status=400):
        """data is answered with status, the connection closed, and the
        runner still serves."""
        c = self.client()
        c.send(data)
        resp = c.read_response()
        self.assertEqual(resp.status, status, resp)
        self.assertEqual(resp.header("connection"), "close", resp)
        self.assertTrue(c.closed_by_peer(PATIENCE), "the connection stayed open")
        self.assert_normal_caller_served()


class SmugglingTest(HostileTestCase):
    def test_content_length_with_transfer_encoding(self):
        body = b"0\r\n\r\n" + SMUGGLED
        for fields in ([("Content-Length", str(len(body))), ("Transfer-Encoding", "chunked")],
                       [("Transfer-Encoding", "chunked"), ("Content-Length", str(len(body)))],
                       [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
                       [("Transfer-Encoding", "chunked"), ("Content-Length", "0")]):
            with self.subTest(fields=fields):
                self.assert_refused(request_bytes("POST", "/normal", fields, body))

    def test_repeated_or_conflicting_content_length(self):
        for values in (("5", "5"), ("5", str(5 + len(SMUGGLED))), (str(5 + len(SMUGGLED)), "5")):
            with self.subTest(values=values):
                fields = [("Content-Length", v) for v in values]
                self.assert_refused(request_bytes("POST", "/normal", fields, b"hello" + SMUGGLED))

    def test_invalid_content_length(self):
        for value in (b"+5", b"-1", b"1_0", b"0x5", b"5, 5", b"5 5", "\u0665".encode(), b"99999999999999999999"):
            with self.subTest(value=value):
                self.assert_refused(b"POST /normal HTTP/1.1\r\nHost: t\r\nContent-Length: " + value
                                    + b"\r\n\r\nhello" + SMUGGLED)

    def test_bad_chunk_sizes(self):
        head = request_bytes("POST", "/normal", [("Transfer-Encoding", "chunked")])
        for chunks in (b"-5\r\nhello\r\n0\r\n\r\n", b"zz\r\nhello\r\n0\r\n\r\n", b"0x5\r\nhello\r\n0\r\n\r\n",
                       b"1" * 40 + b"\r\nhello\r\n0\r\n\r\n", b"5 5\r\nhello\r\n0\r\n\r\n",
                       b"ffffffffffffffff0\r\nhello\r\n0\r\n\r\n"):
            with self.subTest(chunks=chunks):
                self.assert_refused(head + chunks + SMUGGLED)

    def test_missing_crlf_after_chunk_data_or_last_chunk(self):
        head = request_bytes("POST", "/normal", [("Transfer-Encoding", "chunked")])
        for chunks in (b"5\r\nhelloXX0\r\n\r\n", b"5\r\nhello0\r\n\r\n", b"5\r\nhello\r\n0\r\n" + SMUGGLED,
                       b"5\r\nhello\r\n0\r\n" + SMUGGLED[:-2]):
            with self.subTest(chunks=chunks):
                self.assert_refused(head + chunks + SMUGGLED)

    def test_transfer_codings_other_than_chunked(self):
        for value, status in (("gzip", 400), ("chunked, identity", 400), ("identity", 400), ("chunked ,gzip", 400),
                              ("gzip, chunked", 501), ("chunked, chunked", 501), ("chunkedx", 400)):
            with self.subTest(value=value):
                self.assert_refused(request_bytes("POST", "/normal", [("Transfer-Encoding", value)],
                                                  b"0\r\n\r\n" + SMUGGLED), status)

    def test_transfer_encoding_in_http10(self):
        self.assert_refused(b"POST /normal HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED)

    def test_obs_fold_bare_lf_and_bad_field_lines(self):
        for data in (b"GET /normal HTTP/1.1\r\nHost: t\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n\r\n",
                     b"GET /normal HTTP/1.1\r\nHost: t\r\n\tX-A: a\r\n\r\n",
                     b"GET /normal HTTP/1.1\nHost: t\n\n",
                     b"GET /normal HTTP/1.1\r\nHost: t\nContent-Length: 5\r\n\r\nhello",
                     b"GET /normal HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello",
                     b"GET /normal HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n",
                     b"GET /normal HTTP/1.1\r\nHost: t\r\nX-A: a\rContent-Length: 5\r\n\r\nhello"):
            with self.subTest(data=data):
                self.assert_refused(data)

    def test_request_body_that_is_a_request_to_any_path(self):
        """The desync of the security issue: POST /_/ready with a request as
        its body. On the call port every path is the function's, and the
        whole body is read before the next request."""
        for path in ("/_/ready", "/_/health", "/_/stats", "/_/specialize", "/_/nothing", "/"):
            for chunked in (False, True):
                with self.subTest(path=path, chunked=chunked):
                    c = self.client()
                    if chunked:
                        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
                        c.send(request_bytes("POST", path, [("Transfer-Encoding", "chunked")], body))
                    else:
                        c.send(request_bytes("POST", path, body=SMUGGLED))
                    got = self.assert_answer(c.read_response(), path, "POST")
                    self.assertEqual(got["body"], SMUGGLED.decode())
                    self.assert_normal_caller_served(same=c)


class AdminPortTest(HostileTestCase):
    def test_admin_port_reads_every_body(self):
        for path in ("/_/ready", "/_/health", "/_/stats", "/_/nothing"):
            with self.subTest(path=path):
                c = self.client(self.proc.admin_port)
                c.send(request_bytes("POST", path, body=b"GET /_/health HTTP/1.1\r\nHost: t\r\n\r\n"))
                first = c.read_response()
                self.assertIn(first.status, (200, 404), first)
                c.send(request_bytes("GET", "/_/ready"))
                self.assertEqual(c.read_response().body, b"ready")
                self.assert_normal_caller_served()


class ResponseTest(HostileTestCase):
    def test_handler_header_cannot_split_the_response(self):
        for value in ("a%0D%0ASet-Cookie:%20pwned=1", "a%0ASet-Cookie:%20pwned=1", "a%0DSet-Cookie:%20pwned=1",
                      "a%00b", "%E2%98%83", "a%0D%0A%0D%0AHTTP/1.1%20200%20OK"):
            for name in ("X-A", "X%20A", "X-A%0D%0ASet-Cookie"):
                with self.subTest(name=name, value=value):
                    c = self.client()
                    c.send(request_bytes("GET", f"/set-header?name={name}&value={value}"))
                    resp = c.read_response()
                    self.assertEqual(resp.status, 500, resp)
                    self.assertEqual(json.loads(resp.body)["status"], 500)
                    self.assertIn("invalid answer", json.loads(resp.body)["error"])
                    self.assertNotIn("set-cookie", resp.headers)
                    self.assert_normal_caller_served(same=c)

    def test_no_body_for_204_and_304(self):
        for path, status in (("/empty", 204), ("/not-modified", 304)):
            with self.subTest(path=path):
                c = self.client()
                c.send(request_bytes("GET", path))
                resp = c.read_response()
                self.assertEqual(resp.status, status)
                self.assertIsNone(resp.header("content-length") if status == 204 else None)
                self.assert_normal_caller_served(same=c)

    def test_no_body_for_head(self):
        c = self.client()
        c.send(request_bytes("HEAD", "/normal"))
        resp = c.read_response(head_request=True)
        self.assertEqual(resp.status, 200)
        self.assert_normal_caller_served(same=c)

    def test_handler_cannot_send_an_interim_status(self):
        c = self.client()
        c.send(request_bytes("GET", "/interim"))
        resp = c.read_response()
        self.assertEqual(resp.status, 500, resp)
        self.assertIn("interim", json.loads(resp.body)["error"])
        self.assert_normal_caller_served(same=c)


class SlowClientTest(HostileTestCase):
    def dribble(self, c, data):
        """Sends data a byte every 50 ms until the runner closes or answers;
        returns the seconds that took, or None if it never did."""
        start = time.monotonic()
        for i in range(len(data)):
            readable, _, _ = select.select([c.sock], [], [], 0.05)
            if readable:
                return time.monotonic() - start
            try:
                c.send(data[i:i + 1])
            except OSError:
                return time.monotonic() - start
            if i == 3:
                self.assert_normal_caller_served()  # others are served meanwhile
        return None

    def test_slowloris_headers(self):
        c = self.client()
        took = self.dribble(c, b"GET /normal HTTP/1.1\r\nHost: t\r\n" + b"X-Slow: " + b"a" * 200)
        self.assertIsNotNone(took, "the runner waited for the head forever")
        self.assertGreaterEqual(took, 0.4)  # not before the deadline
        self.assertTrue(c.closed_by_peer(PATIENCE) or c.buf.startswith(b"HTTP/1.1 408"))
        self.assert_normal_caller_served()

    def test_slow_body(self):
        c = self.client()
        c.send(request_bytes("POST", "/normal", [("Content-Length", "200")]))
        took = self.dribble(c, b"a" * 200)
        self.assertIsNotNone(took, "the runner waited for the body forever")
        resp = c.read_response()
        self.assertEqual(resp.status, 408)
        self.assertTrue(c.closed_by_peer(PATIENCE))
        self.assert_normal_caller_served()

    def test_idle_keep_alive_connection_is_closed(self):
        c = self.client()
        c.send(request_bytes("GET", "/normal"))
        self.assert_answer(c.read_response(), "/normal")
        self.assertTrue(c.closed_by_peer(PATIENCE), "the idle connection stayed open")
        self.assert_normal_caller_served()

    def test_silent_connection_is_closed(self):
        c = self.client()
        self.assertTrue(c.closed_by_peer(PATIENCE), "a connection that never sent a byte stayed open")
        self.assert_normal_caller_served()


class OversizeTest(HostileTestCase):
    def test_oversized_request_line(self):
        self.assert_refused(request_bytes("GET", "/" + "a" * 2000), 414)
        self.assert_refused(b"GET /" + b"a" * 2000, 414)  # before the line even ends

    def test_oversized_header_section(self):
        self.assert_refused(request_bytes("GET", "/normal", [("X-Big", "a" * 5000)]), 431)
        self.assert_refused(request_bytes("GET", "/normal", [(f"X-{i}", "a" * 40) for i in range(120)]), 431)
        self.assert_refused(request_bytes("GET", "/normal", [(f"X-{i}", "a") for i in range(150)]), 431)


class TooManyConnectionsTest(HostileTestCase):
    ENV = dict(ENV, FAAS_HTTP_MAX_CONNECTIONS="4", FAAS_HTTP_HEADER_TIMEOUT_SECONDS="30",
               FAAS_HTTP_IDLE_TIMEOUT_SECONDS="30")
    HOSTILE = 12

    def test_idle_and_half_open_connections_give_way(self):
        hostile = []
        for i in range(self.HOSTILE):
            c = self.client()
            if i % 2:
                c.send(b"GET /normal HTTP/1.1\r\nHost: t\r\n")  # a head that never ends
            hostile.append(c)
        self.assert_normal_caller_served()
        # All but the newest few of the hostile connections were closed to
        # make room, without waiting for any deadline.
        closed = set()
        deadline = time.monotonic() + PATIENCE
        while len(closed) < self.HOSTILE + 1 - 4 and time.monotonic() < deadline:
            socks = [c.sock for c in hostile if c.sock not in closed]
            readable, _, _ = select.select(socks, [], [], max(0.0, deadline - time.monotonic()))
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    closed.add(sock)
        self.assertGreaterEqual(len(closed), self.HOSTILE + 1 - 4, "the runner kept every connection open")
        with socket.create_connection(("127.0.0.1", self.proc.port), timeout=PATIENCE):
            pass
        self.assert_normal_caller_served()


if __name__ == "__main__":
    unittest.main()
