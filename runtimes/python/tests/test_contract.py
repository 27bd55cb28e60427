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
        ]
        for value, status, ctype, body in cases:
            with self.subTest(value=value):
                resp = contract.to_response(value)
                self.assertEqual(resp.status, status)
                self.assertEqual(resp.headers.get("Content-Type"), ctype)
                self.assertEqual(resp.body, body)

    def test_rejects(self):
        for value in [object(), (1, 2, 3, 4), (999, "x"), ("200", "x"), (200, [], "x")]:
            with self.subTest(value=value), self.assertRaises(TypeError):
                contract.to_response(value)


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
