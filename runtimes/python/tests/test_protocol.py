import unittest

from runner import protocol
from runner.protocol import ProtocolError, RequestReader


def reader(**limits):
    values = dict(max_request_line=256, max_header_bytes=1024, max_header_count=8, max_body=100)
    values.update(limits)
    return RequestReader(**values)


def read(data, **limits):
    """(head, body) of the first request in data; ProtocolError as raised."""
    r = reader(**limits)
    r.feed(data)
    head = r.read_head()
    if head is None:
        return None, None
    return head, r.read_body()


class HeadTest(unittest.TestCase):
    def test_simple(self):
        head, body = read(b"GET /a/b?x=1&y HTTP/1.1\r\nHost: h\r\nX-Pad:  v  \r\nEmpty:\r\n\r\n")
        self.assertEqual((head.method, head.path, head.query, head.version), ("GET", "/a/b", "x=1&y", (1, 1)))
        self.assertEqual(head.fields, [("Host", "h"), ("X-Pad", "v"), ("Empty", "")])
        self.assertTrue(head.keep_alive)
        self.assertEqual(body, b"")

    def test_incremental_byte_by_byte(self):
        data = b"\r\nPOST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: h\r\n\r\n"
        r = reader()
        head = None
        for i in range(len(data)):
            r.feed(data[i:i + 1])
            head = head or r.read_head()
            if head is not None:
                body = r.read_body()
                if body is not None:
                    break
        self.assertEqual((head.path, body), ("/p", b"abc"))
        r.next_request()
        r.feed(data[i + 1:])
        self.assertEqual(r.read_head().path, "/")

    def test_targets(self):
        cases = {
            b"GET http://example.com/x?q HTTP/1.1": ("/x", "q"),
            b"GET HTTPS://example.com HTTP/1.1": ("/", ""),
            b"OPTIONS * HTTP/1.1": ("*", ""),
        }
        for line, want in cases.items():
            with self.subTest(line=line):
                head, _ = read(line + b"\r\nHost: h\r\n\r\n")
                self.assertEqual((head.path, head.query), want)

    def test_keep_alive(self):
        cases = [
            (b"HTTP/1.1", b"", True), (b"HTTP/1.1", b"Connection: close\r\n", False),
            (b"HTTP/1.1", b"Connection: Upgrade, Close\r\n", False), (b"HTTP/1.0", b"", False),
            (b"HTTP/1.0", b"Connection: keep-alive\r\n", True),
            (b"HTTP/1.0", b"Connection: keep-alive, close\r\n", False),
        ]
        for version, extra, want in cases:
            with self.subTest(version=version, extra=extra):
                head, _ = read(b"GET / " + version + b"\r\nHost: h\r\n" + extra + b"\r\n")
                self.assertEqual(head.keep_alive, want)

    def test_expect_continue(self):
        head, _ = read(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n")
        self.assertTrue(head.expect_continue)
        head, _ = read(b"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n")
        self.assertFalse(head.expect_continue)  # no body to wait for

    def test_refused(self):
        cases = [
            # (request, status, message part)
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", 400, "both"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400, "repeated"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "repeated"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\n", 400, "invalid Content-Length"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400, "invalid Content-Length"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", 400, "invalid Content-Length"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1_0\r\n\r\n", 400, "invalid Content-Length"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x1\r\n\r\n", 400, "invalid Content-Length"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 1\r\n\r\n", 400, "invalid Content-Length"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", 400, "invalid Content-Length"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 9999999999999999999\r\n\r\n", 400, "invalid"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n", 413, "exceeds"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "not chunked"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400, "not chunked"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 400, "not chunked"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 400, "not chunked"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "not supported"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501, ""),
            (b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400, "folding"),
            (b"GET / HTTP/1.1\r\nHost: h\r\n\tX-A: a\r\n\r\n", 400, "folding"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX-A : a\r\n\r\n", 400, "malformed header"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX-A\r\n\r\n", 400, "malformed header"),
            (b"GET / HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n", 400, "malformed header"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n", 400, "malformed header"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7fb\r\n\r\n", 400, "malformed header"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400, "bare CR"),
            (b"GET / HTTP/1.1\r\nHost: h\nX-A: a\r\n\r\n", 400, "bare CR or LF"),
            (b"GET / HTTP/1.1\r\nHost: h\n\n", 400, "bare CR or LF"),
            (b"GET / HTTP/1.1\r\n\r\n", 400, "Host"),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Host"),
            (b"GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", 417, "100-continue"),
            (b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request line"),
            (b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "request line"),
            (b"GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request line"),
            (b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request line"),
            (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "HTTP/1"),
            (b"GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505, "HTTP/1"),
            (b"GET / FOO/1.1\r\nHost: h\r\n\r\n", 400, "request line"),
            (b"GET /#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400, "target"),
            (b"GET example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "target"),
            (b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "target"),
            (b"GET ftp://x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "target"),
        ]
        for data, status, part in cases:
            with self.subTest(data=data):
                with self.assertRaises(ProtocolError) as ctx:
                    read(data)
                self.assertEqual(ctx.exception.status, status)
                self.assertIn(part, str(ctx.exception))

    def test_limits(self):
        with self.assertRaises(ProtocolError) as ctx:
            read(b"GET /" + b"a" * 300 + b" HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertEqual(ctx.exception.status, 414)
        with self.assertRaises(ProtocolError) as ctx:
            read(b"GET /" + b"a" * 300)  # refused before the line ends
        self.assertEqual(ctx.exception.status, 414)
        with self.assertRaises(ProtocolError) as ctx:
            read(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: " + b"a" * 1100 + b"\r\n\r\n")
        self.assertEqual(ctx.exception.status, 431)
        with self.assertRaises(ProtocolError) as ctx:
            read(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: " + b"a" * 1100)  # refused before the head ends
        self.assertEqual(ctx.exception.status, 431)
        with self.assertRaises(ProtocolError) as ctx:
            read(b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X: 1\r\n" * 9 + b"\r\n")
        self.assertEqual(ctx.exception.status, 431)

    def test_bare_lf_is_refused_before_the_head_ends(self):
        with self.assertRaises(ProtocolError) as ctx:
            read(b"GET / HTTP/1.1\nHost: h\n")
        self.assertEqual(ctx.exception.status, 400)
        # A CR at the very end may still be followed by its LF.
        self.assertEqual(read(b"GET / HTTP/1.1\r"), (None, None))

    def test_long_whitespace_value_is_linear(self):
        # A lazy value pattern would backtrack quadratically here.
        head, _ = read(b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b" " * 60000 + b"x\r\n\r\n", max_header_bytes=70000)
        self.assertEqual(head.get("x"), "x")


class ChunkedTest(unittest.TestCase):
    HEAD = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

    def test_chunks_extensions_and_trailers(self):
        _, body = read(self.HEAD + b"3;a=b;c=\"q\\\"x\"\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n")
        self.assertEqual(body, b"abc0123456789")

    def test_refused(self):
        cases = [
            (b"-5\r\nabc\r\n0\r\n\r\n", 400), (b"zz\r\nabc\r\n0\r\n\r\n", 400), (b"0x3\r\nabc\r\n0\r\n\r\n", 400),
            (b"1" * 17 + b"\r\n", 400), (b" 3\r\nabc\r\n0\r\n\r\n", 400), (b"3 \r\nabc\r\n0\r\n\r\n", 400),
            (b"\r\n", 400), (b"3\r\nabcXX0\r\n\r\n", 400), (b"3\r\nabc\n0\r\n\r\n", 400),
            (b"3\nabc\r\n0\r\n\r\n", 400), (b"3;\r\nabc\r\n0\r\n\r\n", 400), (b"3;a=\x01\r\nabc\r\n", 400),
            (b"0\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400), (b"0\r\nX: a\x00\r\n\r\n", 400),
            (b"65\r\n", 413), (b"32\r\n" + b"a" * 50 + b"\r\n33\r\n", 413), (b"3;" + b"a" * 5000, 400),
        ]
        for chunks, status in cases:
            with self.subTest(chunks=chunks):
                with self.assertRaises(ProtocolError) as ctx:
                    read(self.HEAD + chunks)
                self.assertEqual(ctx.exception.status, status)

    def test_incomplete_waits(self):
        for chunks in (b"", b"3", b"3\r", b"3\r\nab", b"3\r\nabc", b"3\r\nabc\r", b"3\r\nabc\r\n0\r\n",
                       b"3\r\nabc\r\n0\r\nX: 1\r\n"):
            with self.subTest(chunks=chunks):
                self.assertIsNone(read(self.HEAD + chunks)[1])

    def test_byte_by_byte_then_next_request(self):
        data = self.HEAD + b"3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n"
        r = reader()
        r.feed(data[:len(self.HEAD)])
        self.assertTrue(r.read_head().chunked)
        body = None
        for i in range(len(self.HEAD), len(data)):
            r.feed(data[i:i + 1])
            body = r.read_body()
            if body is not None:
                break
        self.assertEqual(body, b"abc")
        r.next_request()
        r.feed(data[i + 1:])
        self.assertEqual(r.read_head().path, "/next")


class EncodeTest(unittest.TestCase):
    def encode(self, status, headers=None, body=b"", head_request=False, close=False):
        return protocol.encode_response(status, headers or {}, body, head_request=head_request, close=close, date=b"D")

    def test_ok(self):
        self.assertEqual(self.encode(200, {"X-A": "b", "Content-Length": "99", "Connection": "keep-alive",
                                           "Transfer-Encoding": "chunked"}, b"hi"),
                         b"HTTP/1.1 200 OK\r\nX-A: b\r\nServer: faas-python-runner\r\nDate: D\r\n"
                         b"Content-Length: 2\r\n\r\nhi")

    def test_bodyless(self):
        for status in (204, 304):
            with self.subTest(status=status):
                out = self.encode(status, body=b"x")
                self.assertNotIn(b"Content-Length", out)
                self.assertTrue(out.endswith(b"\r\n\r\n"))
        out = self.encode(200, body=b"xyz", head_request=True, close=True)
        self.assertTrue(out.endswith(b"Content-Length: 3\r\nConnection: close\r\n\r\n"))

    def test_unknown_status_and_own_server_date(self):
        out = self.encode(599, {"Server": "mine", "Date": "today"})
        self.assertTrue(out.startswith(b"HTTP/1.1 599 \r\nServer: mine\r\nDate: today\r\n"))
        self.assertEqual(out.count(b"Server:"), 1)

    def test_refuses_splitting_fields(self):
        for headers in ({"X": "a\r\nb"}, {"X": "\u2603"}, {"X\nY": "a"}, {"X": 1}):
            with self.subTest(headers=headers), self.assertRaises(protocol.InvalidField):
                self.encode(200, headers)


if __name__ == "__main__":
    unittest.main()
