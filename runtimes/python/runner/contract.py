"""The handler contract: what a handler receives and what it may return.

A handler is ``def handle(req)``. ``req`` is a Request. It returns one of:

* ``str``                     -> 200, text/plain; charset=utf-8
* ``bytes``                   -> 200, application/octet-stream
* ``dict``, ``list``, number, bool -> 200, application/json
* ``None``                    -> 204, no body
* ``(status, body)`` or ``(status, headers, body)`` where body is any of
  the above and headers a dict; a Content-Type in headers wins.

What HTTP forbids is refused or dropped here, never sent: a status below
200 (a handler cannot switch protocols or send interim answers) and a
header that is not a token name with a latin-1 value free of control
characters are answered 500 (InvalidAnswer); the body of a 204 or 304 is
dropped, as is every body answering a HEAD request.
"""

import json
import urllib.parse

from . import protocol
from . import runnerapi as api


class BadRequest(ValueError):
    """Raised for a request the handler cannot use; answered with 400."""


class InvalidAnswer(TypeError):
    """The handler returned something that cannot be sent; answered 500.
    Its message names what is wrong, never the caller's data."""


class Headers:
    """The request's header fields, looked up case-insensitively:
    ``req.headers.get("content-type")``. The first value of a repeated
    field wins in get() and [], get_all() returns all of them; a missing
    field is None, as with the email.message.Message the runner used to
    hand out."""

    __slots__ = ("_fields", "_index")

    def __init__(self, fields=()):
        self._fields = list(fields.items()) if isinstance(fields, dict) else list(fields)
        self._index = None

    def _lookup(self):
        if self._index is None:
            index = {}
            for name, value in self._fields:
                index.setdefault(name.lower(), []).append(value)
            self._index = index
        return self._index

    def get(self, name, default=None):
        values = self._lookup().get(name.lower())
        return values[0] if values else default

    def get_all(self, name, default=None):
        values = self._lookup().get(name.lower())
        return list(values) if values else default

    def __getitem__(self, name):
        return self.get(name)

    def __contains__(self, name):
        return isinstance(name, str) and name.lower() in self._lookup()

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self._fields)

    def keys(self):
        return [name for name, _ in self._fields]

    def values(self):
        return [value for _, value in self._fields]

    def items(self):
        return list(self._fields)

    def __repr__(self):
        return f"Headers({self._fields!r})"


class Request:
    """One call, as the handler sees it."""

    def __init__(self, method, path, query_string, headers, body):
        self.method = method
        self.path = path
        self.query_string = query_string
        #: case-insensitive: req.headers.get("content-type")
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = body
        #: every value of each query parameter, in order
        self.query_list = urllib.parse.parse_qs(query_string, keep_blank_values=True) if query_string else {}
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
    """A normalized answer: status, headers (dict of str) and body bytes.
    close asks for the connection to be closed after it; on_sent, if set,
    is called once the answer has been handed to the connection."""

    __slots__ = ("status", "headers", "body", "close", "on_sent")

    def __init__(self, status, headers, body, close=False, on_sent=None):
        self.status = status
        self.headers = headers
        self.body = body
        self.close = close
        self.on_sent = on_sent


def to_response(result):
    """Normalizes a handler's return value; InvalidAnswer if it cannot be
    sent."""
    status, headers = 200, {}
    if isinstance(result, tuple):
        if len(result) == 2:
            status, result = result
        elif len(result) == 3:
            status, headers, result = result
        else:
            raise InvalidAnswer("a tuple answer must be (status, body) or (status, headers, body)")
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise InvalidAnswer(f"status must be an int from 100 to 599, not {status!r}")
        status = int(status)  # an HTTPStatus is fine, and sent as its number
        if status < 200:
            raise InvalidAnswer(f"status {status} is an interim answer, which a handler may not send")
        if not isinstance(headers, dict):
            raise InvalidAnswer("headers must be a dict")
        headers = {str(k): str(v) for k, v in headers.items()}
        for name, value in headers.items():
            try:
                protocol.check_field(name, value)
            except protocol.InvalidField as err:
                raise InvalidAnswer(str(err)) from None
    content_type, body = _encode(result)
    if result is None and status == 200:
        status = 204
    if protocol.is_bodyless(status):
        body = b""
    elif content_type and not any(k.lower() == "content-type" for k in headers):
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
        try:
            return "application/json", json.dumps(value).encode("utf-8")
        except (TypeError, ValueError) as err:  # a set inside, a cycle...
            raise InvalidAnswer(f"the answer is not JSON: {err}") from None
    raise InvalidAnswer(f"handler returned {type(value).__name__}, which is not a valid answer")


def error_response(status, message, **extra):
    """The JSON error body shared with the gateway: {"error", "status"}."""
    payload = {api.ERROR_ERROR: message, api.ERROR_STATUS: status}
    payload.update(extra)
    return Response(status, {"Content-Type": "application/json"}, json.dumps(payload).encode("utf-8"))
