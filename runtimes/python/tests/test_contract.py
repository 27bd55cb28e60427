import http
import json
import unittest

from runner import contract


class ToResponseTest(unittest.TestCase):
    def test_values(self):
        cases = [
            ("hi", 200, "text/plain; charset=utf-8", b"hi"),
            (b"\x00\x01", 200, "application/octet-stream", b"\x00\x01"),
            ({"a": 1}, 200, "application/json", b'{"a": 1}'),
            ([1, 2], 200, "application/json", b"[1, 2]"),
            (3, 200, "application/json", b"3"),
            (None, 204, None, b""),
            ((201, "made"), 201, "text/plain; charset=utf-8", b"made"),
            ((404, {"X-A": "b"}, {"e": 1}), 404, "application/json", b'{"e": 1}'),
            ((200, {"content-type": "text/html"}, "<p>"), 200, None, b"<p>"),
            ((http.HTTPStatus.CREATED, "made"), 201, "text/plain; charset=utf-8", b"made"),
            # HTTP forbids a body here: it is dropped, never sent.
            ((204, "gone"), 204, None, b""),
            ((304, {"ETag": "e"}, b"old"), 304, None, b""),
            ((200, {"X-Num": 5}, "x"), 200, "text/plain; charset=utf-8", b"x"),
        ]
        for value, status, ctype, body in cases:
            with self.subTest(value=value):
                resp = contract.to_response(value)
                self.assertEqual(resp.status, status)
                self.assertEqual(resp.headers.get("Content-Type"), ctype)
                self.assertEqual(resp.body, body)

    def test_rejects(self):
        for value in [object(), (1, 2, 3, 4), (999, "x"), ("200", "x"), (200, [], "x"), (True, "x"),
                      (100, "x"), (101, {"Upgrade": "h2c"}, ""), (199, "x")]:
            with self.subTest(value=value), self.assertRaises(contract.InvalidAnswer):
                contract.to_response(value)

    def test_rejects_headers_that_would_split_the_response(self):
        for name, value in [("X-A", "a\r\nSet-Cookie: x=1"), ("X-A", "a\nb"), ("X-A", "a\rb"), ("X-A", "a\0b"),
                            ("X-A", "\u2603"), ("X-A", "a\x7fb"), ("X-A", "\x1b[31m"), ("X A", "b"), ("", "b"),
                            ("X:A", "b"), ("X-A\r\nY", "b"), ("Caf\xe9", "b")]:
            with self.subTest(name=name, value=value):
                with self.assertRaises(contract.InvalidAnswer) as ctx:
                    contract.to_response((200, {name: value}, "x"))
                self.assertNotIn(value, str(ctx.exception))  # never echoes the caller's data

    def test_accepts_latin1_and_tabs(self):
        resp = contract.to_response((200, {"X-A": "caf\xe9\tok", "X-Empty": ""}, "x"))
        self.assertEqual(resp.headers["X-A"], "caf\xe9\tok")


class HeadersTest(unittest.TestCase):
    def test_lookup(self):
        h = contract.Headers([("Content-Type", "a/b"), ("X-Many", "1"), ("x-many", "2")])
        self.assertEqual(h.get("content-type"), "a/b")
        self.assertEqual(h["CONTENT-TYPE"], "a/b")
        self.assertIsNone(h["missing"])
        self.assertEqual(h.get("missing", "d"), "d")
        self.assertEqual(h.get_all("X-MANY"), ["1", "2"])
        self.assertIsNone(h.get_all("missing"))
        self.assertIn("x-many", h)
        self.assertNotIn("missing", h)
        self.assertEqual(len(h), 3)
        self.assertEqual(list(h), ["Content-Type", "X-Many", "x-many"])
        self.assertEqual(h.items()[0], ("Content-Type", "a/b"))

    def test_from_dict(self):
        self.assertEqual(contract.Headers({"A": "1"}).get("a"), "1")


class RequestTest(unittest.TestCase):
    def test_query_and_json(self):
        req = contract.Request("POST", "/x", "a=1&a=2&b=", {}, b'{"k": [1]}')
        self.assertEqual(req.query, {"a": "1", "b": ""})
        self.assertEqual(req.query_list["a"], ["1", "2"])
        self.assertEqual(req.json(), {"k": [1]})
        self.assertEqual(req.text, '{"k": [1]}')

    def test_bad_json_is_bad_request(self):
        req = contract.Request("POST", "/", "", {}, b"{nope")
        with self.assertRaises(contract.BadRequest):
            req.json()

    def test_error_response_shape(self):
        resp = contract.error_response(504, "slow", function="f")
        self.assertEqual(json.loads(resp.body), {"error": "slow", "status": 504, "function": "f"})


if __name__ == "__main__":
    unittest.main()
