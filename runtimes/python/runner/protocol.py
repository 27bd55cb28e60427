"""HTTP/1.1 framing: a strict, incremental request reader and the response
encoder. Bytes in, requests out; no sockets, so every rule is unit-tested.

Why strict: the gateway sends many callers' requests over one pooled
keep-alive connection. If the runner and the gateway (or any proxy in
front) disagree by one byte on where a request ends, the rest is read as
the next request and its answer goes to another caller. So a request whose
end is not unambiguous is refused (400, or 501 for an unsupported coding)
and its connection closed: Content-Length together with Transfer-Encoding,
a repeated or non-decimal Content-Length, a final transfer coding other than
chunked, a malformed chunk size or a chunk not followed by CRLF, obsolete
line folding, a bare CR or LF, whitespace before a colon, a missing or
repeated Host. The head is bounded (414 for the request line, 431 for the
header section) before it is parsed, and a body over the limit is 413.

The parser is hand-written rather than h11 (which Debian ships): h11
accepts some of the above (Content-Length with Transfer-Encoding, a
repeated Content-Length, bare LF, folding), and per request it costs about
six times the CPU, which matters on a single-threaded event loop (see
README.md).
"""

import http
import re

# RFC 9110 token: the characters of a method and of a field name.
_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
# A field line; the value may hold VCHAR, obs-text, SP and HTAB only, so no
# CR, LF, NUL or other control character. Greedy, then stripped in Python:
# a lazy value before trailing whitespace would backtrack quadratically.
_FIELD_LINE = re.compile(rb"(" + _TOKEN + rb"):([\t\x20-\x7e\x80-\xff]*)")
_DIGITS = re.compile(rb"[0-9]{1,18}")
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,16})((?:[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED + rb"))?)*)")
_ABSOLUTE_TARGET = re.compile(rb"[hH][tT][tT][pP][sS]?://[^/?#]*((?:/[^?#]*)?)(?:\?([^#]*))?")
#: A chunk-size line with its extensions.
MAX_CHUNK_LINE = 4096

# Response side.
_FIELD_NAME_STR = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Anything but HTAB, SP, VCHAR and obs-text: CR, LF, NUL, other control
# characters and every character outside latin-1.
_BAD_VALUE_CHAR = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
#: Fields that frame the message or the connection; the encoder sets them.
_FRAMING_FIELDS = frozenset(("content-length", "transfer-encoding", "connection", "keep-alive",
                             "upgrade", "trailer", "proxy-connection"))
_STATUS_LINES = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode("ascii")) for s in http.HTTPStatus}
SERVER = b"faas-python-runner"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class ProtocolError(Exception):
    """The request cannot be read; answered with status, then the
    connection is closed (its framing can no longer be trusted)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class InvalidField(ValueError):
    """A response header that cannot be sent as it is."""


class Head:
    """One request's line and fields, and what they say about framing."""

    __slots__ = ("method", "target", "path", "query", "version", "fields", "length", "chunked",
                 "keep_alive", "expect_continue")

    def __init__(self):
        self.method = ""
        self.target = ""
        self.path = ""
        self.query = ""
        self.version = (1, 1)
        #: [(name, value)] in order, names as sent, both decoded as latin-1.
        self.fields = []
        #: Content-Length, or 0 when there is none (and no chunked body).
        self.length = 0
        self.chunked = False
        self.keep_alive = True
        self.expect_continue = False

    def get(self, name, default=None):
        """The first value of a field (name in lower case)."""
        for key, value in self.fields:
            if key.lower() == name:
                return value
        return default


# Reader states.
_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _DONE = range(7)


class RequestReader:
    """Reads requests, one at a time, from the bytes of one connection.

    feed() the bytes as they arrive; read_head() returns the Head once the
    whole head is in, then read_body() the body once all of it is in (both
    return None while they need more). next_request() starts the next one;
    what was received beyond the body stays buffered (pipelining). Every
    method raises ProtocolError for a request that must be refused.
    """

    __slots__ = ("buf", "_state", "_scan", "_head", "_remaining", "_parts", "_total", "_trailer_bytes",
                 "_trailer_count", "max_request_line", "max_header_bytes", "max_header_count", "max_body")

    def __init__(self, max_request_line=8192, max_header_bytes=65536, max_header_count=128,
                 max_body=6 << 20):
        self.buf = bytearray()
        self.max_request_line = max_request_line
        self.max_header_bytes = max_header_bytes
        self.max_header_count = max_header_count
        self.max_body = max_body
        self._state = _HEAD
        self._scan = 0  # where to resume looking for the end of the head
        self._head = None
        self._remaining = 0
        self._parts = []
        self._total = 0
        self._trailer_bytes = 0
        self._trailer_count = 0

    def feed(self, data):
        self.buf += data

    @property
    def started(self):
        """Bytes of a request are buffered, or its head has been read."""
        return self._state != _HEAD or bool(self.buf)

    def next_request(self):
        """Forgets the answered request; call only after read_body returned."""
        self._state = _HEAD
        self._scan = 0
        self._head = None
        self._parts = []
        self._total = 0

    # The head.

    def read_head(self):
        buf = self.buf
        # RFC 9112 section 2.2: empty lines before a request are ignored.
        while buf[:2] == b"\r\n":
            del buf[:2]
        end = buf.find(b"\r\n\r\n", self._scan)
        if end < 0:
            self._check_partial_head()
            return None
        if end + 4 > self.max_header_bytes:
            raise ProtocolError(431, "request header fields too large")
        raw = bytes(buf[:end])
        del buf[:end + 4]
        self._scan = 0
        lines = raw.split(b"\r\n")
        if raw.count(b"\n") != len(lines) - 1 or raw.count(b"\r") != len(lines) - 1:
            raise ProtocolError(400, "bare CR or LF in the request head")
        head = self._parse_line(lines[0])
        self._parse_fields(head, lines)
        self._head = head
        if head.chunked:
            self._state = _CHUNK_SIZE
        else:
            self._state = _BODY
            self._remaining = head.length
        return head

    def _check_partial_head(self):
        """Refuses at once a partial head that can never become valid."""
        buf = self.buf
        n = len(buf)
        self._scan = max(0, n - 3)
        first = buf.find(b"\n")
        if (first < 0 and n > self.max_request_line + 1) or first > self.max_request_line + 1:
            raise ProtocolError(414, "request line too long")
        if n >= self.max_header_bytes:
            raise ProtocolError(431, "request header fields too large")
        # A lone LF, or a CR not followed by LF (a CR at the very end may
        # still be followed by one), would never make CRLFCRLF.
        crlf = buf.count(b"\r\n")
        if buf.count(b"\n") != crlf or buf.count(b"\r") - (buf[-1:] == b"\r") != crlf:
            raise ProtocolError(400, "bare CR or LF in the request head")

    def _parse_line(self, line):
        if len(line) > self.max_request_line:
            raise ProtocolError(414, "request line too long")
        m = _REQUEST_LINE.fullmatch(line)
        if m is None:
            raise ProtocolError(400, "malformed request line")
        major, minor = int(m.group(3)), int(m.group(4))
        if major != 1:
            raise ProtocolError(505, "only HTTP/1.0 and HTTP/1.1 are served")
        head = Head()
        head.method = m.group(1).decode("ascii")
        target = m.group(2)
        head.target = target.decode("ascii")
        head.version = (1, 0) if minor == 0 else (1, 1)
        if target[:1] == b"/":
            if b"#" in target:
                raise ProtocolError(400, "malformed request target")
            path, _, query = head.target.partition("?")
        elif target == b"*" and head.method == "OPTIONS":
            path, query = "*", ""
        else:
            t = _ABSOLUTE_TARGET.fullmatch(target)
            if t is None:
                raise ProtocolError(400, "malformed request target")
            path = t.group(1).decode("ascii") or "/"
            query = (t.group(2) or b"").decode("ascii")
        head.path = path
        head.query = query
        return head

    def _parse_fields(self, head, lines):
        if len(lines) - 1 > self.max_header_count:
            raise ProtocolError(431, "too many request header fields")
        fields = head.fields
        length = te = expect = None
        hosts = 0
        connection = b""
        for line in lines[1:]:
            m = _FIELD_LINE.fullmatch(line)
            if m is None:
                if line[:1] in (b" ", b"\t"):
                    raise ProtocolError(400, "obsolete line folding in the request head")
                raise ProtocolError(400, "malformed header field")
            name = m.group(1)
            value = m.group(2).strip(b" \t")
            lname = name.lower()
            if lname == b"content-length":
                if length is not None:
                    raise ProtocolError(400, "repeated Content-Length")
                if _DIGITS.fullmatch(value) is None:
                    raise ProtocolError(400, "invalid Content-Length")
                length = int(value)
            elif lname == b"transfer-encoding":
                te = value if te is None else te + b"," + value
            elif lname == b"host":
                hosts += 1
            elif lname == b"connection":
                connection = connection + b"," + value.lower() if connection else value.lower()
            elif lname == b"expect":
                expect = value.lower() if expect is None else expect + b"," + value.lower()
            fields.append((name.decode("latin-1"), value.decode("latin-1")))
        http10 = head.version == (1, 0)
        if hosts > 1 or (hosts == 0 and not http10):
            raise ProtocolError(400, "a request needs exactly one Host")
        if te is not None:
            if length is not None:
                raise ProtocolError(400, "both Content-Length and Transfer-Encoding")
            if http10:
                raise ProtocolError(400, "Transfer-Encoding in an HTTP/1.0 request")
            codings = [c.strip(b" \t").lower() for c in te.split(b",")]
            if codings[-1] != b"chunked":
                raise ProtocolError(400, "the final transfer coding is not chunked")
            if len(codings) != 1:
                raise ProtocolError(501, "transfer codings other than chunked are not supported")
            head.chunked = True
        elif length is not None:
            if length > self.max_body:
                raise ProtocolError(413, f"request body exceeds {self.max_body} bytes")
            head.length = length
        if connection:
            tokens = {t.strip(b" \t") for t in connection.split(b",")}
            head.keep_alive = b"close" not in tokens and (not http10 or b"keep-alive" in tokens)
        else:
            head.keep_alive = not http10
        if expect is not None and not http10:
            if expect != b"100-continue":
                raise ProtocolError(417, "only the expectation 100-continue is supported")
            head.expect_continue = head.chunked or head.length > 0

    # The body.

    def read_body(self):
        if self._state == _BODY:
            n = self._remaining
            buf = self.buf
            if len(buf) < n:
                return None
            self._state = _DONE
            if not n:
                return b""
            body = bytes(buf[:n])
            del buf[:n]
            return body
        return self._read_chunked()

    def _read_chunked(self):
        buf = self.buf
        while True:
            state = self._state
            if state == _CHUNK_DATA:
                if not buf:
                    return None
                take = min(len(buf), self._remaining)
                self._parts.append(bytes(buf[:take]))
                del buf[:take]
                self._remaining -= take
                if self._remaining:
                    return None
                self._state = _CHUNK_END
            elif state == _CHUNK_END:
                if len(buf) < 2:
                    if buf[:1] not in (b"", b"\r"):
                        raise ProtocolError(400, "chunk data not followed by CRLF")
                    return None
                if buf[:2] != b"\r\n":
                    raise ProtocolError(400, "chunk data not followed by CRLF")
                del buf[:2]
                self._state = _CHUNK_SIZE
            elif state == _CHUNK_SIZE:
                line = self._line(MAX_CHUNK_LINE, "chunk size line too long")
                if line is None:
                    return None
                m = _CHUNK_LINE.fullmatch(line)
                if m is None:
                    raise ProtocolError(400, "invalid chunk size")
                size = int(m.group(1), 16)
                if size == 0:
                    self._state = _TRAILER
                    self._trailer_bytes = self._trailer_count = 0
                    continue
                self._total += size
                if self._total > self.max_body:
                    raise ProtocolError(413, f"request body exceeds {self.max_body} bytes")
                self._remaining = size
                self._state = _CHUNK_DATA
            elif state == _TRAILER:
                line = self._line(self.max_header_bytes - self._trailer_bytes, "request trailer fields too large")
                if line is None:
                    return None
                self._trailer_bytes += len(line) + 2
                if not line:
                    self._state = _DONE
                    body = b"".join(self._parts)
                    self._parts = []
                    return body
                self._trailer_count += 1
                if self._trailer_count > self.max_header_count or _FIELD_LINE.fullmatch(line) is None:
                    raise ProtocolError(400, "malformed trailer field")
            else:
                raise RuntimeError("read_body called before read_head or after the body")

    def _line(self, limit, too_long):
        """The next CRLF-terminated line without its CRLF, or None."""
        buf = self.buf
        i = buf.find(b"\r\n", 0, limit + 2)
        if i < 0:
            if len(buf) > limit:
                raise ProtocolError(400 if "chunk" in too_long else 431, too_long)
            if b"\n" in buf or b"\r" in buf[:-1]:
                raise ProtocolError(400, "bare CR or LF in a chunked body")
            return None
        line = bytes(buf[:i])
        del buf[:i + 2]
        if b"\n" in line or b"\r" in line:
            raise ProtocolError(400, "bare CR or LF in a chunked body")
        return line


def check_field(name, value):
    """Raises InvalidField unless name: value can be sent as one header
    line: a token name and a latin-1 value with no CR, LF, NUL or other
    control character. Its message names the field only when the name is
    valid, and never quotes the value (it may be the caller's input)."""
    if not isinstance(name, str) or _FIELD_NAME_STR.fullmatch(name) is None:
        raise InvalidField("a header name is not a valid token")
    if not isinstance(value, str):
        raise InvalidField(f"header {name} is not a string")
    if _BAD_VALUE_CHAR.search(value) is not None:
        raise InvalidField(f"header {name} has a control character (CR, LF, NUL...) or a character outside latin-1")


def is_bodyless(status):
    """1xx, 204 and 304 answers never have a body (RFC 9110 section 6.4.1)."""
    return status < 200 or status == 204 or status == 304


def encode_response(status, headers, body, *, head_request, close, date):
    """The bytes of one answer: status line, fields, and the body unless
    the status or a HEAD request forbids one. The framing fields are the
    encoder's alone: Content-Length (none for bodyless statuses) and
    Connection: close. Raises InvalidField for a header that would split
    the response."""
    out = [_STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status]
    server = dated = False
    for name, value in headers.items():
        check_field(name, value)
        lname = name.lower()
        if lname in _FRAMING_FIELDS:
            continue
        if lname == "server":
            server = True
        elif lname == "date":
            dated = True
        out.append(b"%s: %s\r\n" % (name.encode("ascii"), value.strip(" \t").encode("latin-1")))
    if not server:
        out.append(b"Server: " + SERVER + b"\r\n")
    if not dated:
        out.append(b"Date: " + date + b"\r\n")
    bodyless = is_bodyless(status)
    if not bodyless:
        out.append(b"Content-Length: %d\r\n" % len(body))
    if close:
        out.append(b"Connection: close\r\n")
    out.append(b"\r\n")
    if body and not bodyless and not head_request:
        out.append(body)
    return b"".join(out)
