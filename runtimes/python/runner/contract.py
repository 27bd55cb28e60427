"""The handler contract: what a handler receives and what it may return.

A handler is ``def handle(req)``. ``req`` is a Request. It returns one of:

* ``str``                     -> 200, text/plain; charset=utf-8
* ``bytes``                   -> 200, application/octet-stream
* ``dict``, ``list``, number, bool -> 200, application/json
* ``None``                    -> 204, no body
* ``(status, body)`` or ``(status, headers, body)`` where body is any of
  the above and headers a dict; a Content-Type in headers wins.
"""

import json
import urllib.parse


class BadRequest(ValueError):
    """Raised for a request the handler cannot use; answered with 400."""


class Request:
    """One call, as the handler sees it."""

    def __init__(self, method, path, query_string, headers, body):
        self.method = method
        self.path = path
        self.query_string = query_string
        #: case-insensitive: req.headers.get("content-type")
        self.headers = headers
        self.body = body
        #: every value of each query parameter, in order
        self.query_list = urllib.parse.parse_qs(query_string, keep_blank_values=True)
        #: the first value of each query parameter
        self.query = {k: v[0] for k, v in self.query_list.items()}

    @property
    def text(self):
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body parsed as JSON; BadRequest (400) when it is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError as err:
            raise BadRequest(f"request body is not valid JSON: {err}") from err


class Response:
    """A normalized answer: status, headers (dict) and body bytes."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


def to_response(result):
    """Normalizes a handler's return value; TypeError if it is not allowed."""
    status, headers = 200, {}
    if isinstance(result, tuple):
        if len(result) == 2:
            status, result = result
        elif len(result) == 3:
            status, headers, result = result
        else:
            raise TypeError("a tuple answer must be (status, body) or (status, headers, body)")
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise TypeError(f"status must be an int from 100 to 599, not {status!r}")
        if not isinstance(headers, dict):
            raise TypeError("headers must be a dict")
        headers = {str(k): str(v) for k, v in headers.items()}
    content_type, body = _encode(result)
    if result is None and status == 200:
        status = 204
    if content_type and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = content_type
    return Response(status, headers, body)


def _encode(value):
    if value is None:
        return None, b""
    if isinstance(value, str):
        return "text/plain; charset=utf-8", value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "application/octet-stream", bytes(value)
    if isinstance(value, (dict, list, int, float, bool)):
        return "application/json", json.dumps(value).encode("utf-8")
    raise TypeError(f"handler returned {type(value).__name__}, which is not a valid answer")


def error_response(status, message, **extra):
    """The JSON error body shared with the gateway: {"error", "status"}."""
    payload = {"error": message, "status": status}
    payload.update(extra)
    return Response(status, {"Content-Type": "application/json"}, json.dumps(payload).encode("utf-8"))
