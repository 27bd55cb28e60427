"""Connections: one asyncio event loop serves every connection of both
ports, each a small state machine over protocol.RequestReader.

What holds for every connection:

* Every answer leaves it in a known state: the request's body has been read
  to its last byte, so the next byte starts the next request, or the
  connection is closed after the answer. An answer is never sent while a
  body is unread and the connection kept.
* One request at a time; the bytes of a pipelined next request wait in the
  buffer, and reading pauses when they pile up or the peer does not read.
* Every state but "the app is answering" has a deadline, enforced by one
  sweep timer per listener rather than a timer per connection: the head
  (from accept, or from a kept-alive request's first byte: slowloris), the
  body, keep-alive idleness, sending (a peer that does not read), and
  lingering after a closing answer (unread input is dropped for a moment so
  that the peer gets the answer rather than a reset).
* At most max_connections per listener: a new connection at the limit
  closes the one that has waited longest without a request in progress,
  or, when every connection is busy, is answered 503 and closed.

An app is anything with handle(head, body, reply): reply(Response) must be
called exactly once, on the loop, now or later.
"""

import asyncio
import collections
import email.utils
import logging
import socket
import time

from . import contract, protocol

log = logging.getLogger("runner")

# Connection states.
_IDLE, _HEAD, _BODY, _APP, _CLOSING, _CLOSED = range(6)
#: Unsent answer bytes above which a connection stops reading requests.
_WRITE_HIGH_WATER = 64 * 1024


class Listener:
    """One listening port, its connections and their deadlines."""

    def __init__(self, loop, app, config, max_connections, name):
        self.loop = loop
        self.app = app
        self.config = config
        self.name = name
        self.limit = max_connections
        self.port = None
        self.draining = False
        self.connections = set()
        # Connections with no request in progress, longest-waiting first:
        # the ones a new connection may displace at the limit.
        self._uncommitted = collections.OrderedDict()
        self._server = None
        self._sweeper = None
        self._empty = asyncio.Event()
        self._date = b""
        self._date_second = -1
        c = config
        self._tick = min(0.5, max(0.01, min(c.header_timeout_seconds, c.body_timeout_seconds,
                                            c.idle_timeout_seconds, c.send_timeout_seconds,
                                            c.linger_seconds) / 4))

    async def start(self, host, port, backlog=1024):
        sock = bind(host, port, backlog)
        self.port = sock.getsockname()[1]
        self._server = await self.loop.create_server(lambda: Connection(self), sock=sock, backlog=backlog)
        self._sweeper = self.loop.call_later(self._tick, self._sweep)

    def date(self):
        """The Date field, formatted once a second."""
        now = time.time()
        second = int(now)
        if second != self._date_second:
            self._date_second = second
            self._date = email.utils.formatdate(now, usegmt=True).encode("ascii")
        return self._date

    # Admission and bookkeeping.

    def admit(self, conn):
        """Takes a new connection in, displacing an idle one at the limit;
        False when every connection is busy."""
        if len(self.connections) >= self.limit:
            if not self._uncommitted:
                return False
            victim, _ = self._uncommitted.popitem(last=False)
            self.connections.discard(victim)
            victim.evict()
        self.connections.add(conn)
        self._uncommitted[conn] = None
        return True

    def commit(self, conn):
        """conn has a request in progress: it may not be displaced."""
        self._uncommitted.pop(conn, None)

    def uncommit(self, conn, first=False):
        self._uncommitted[conn] = None
        if first:  # lingering after a closing answer: displaced before any other
            self._uncommitted.move_to_end(conn, last=False)

    def forget(self, conn):
        self.connections.discard(conn)
        self._uncommitted.pop(conn, None)
        if self.draining and not self.connections:
            self._empty.set()

    # Deadlines.

    def _sweep(self):
        now = self.loop.time()
        for conn in list(self.connections):
            if conn.deadline <= now or conn.send_deadline <= now:
                conn.expire(now)
        self._sweeper = self.loop.call_later(self._tick, self._sweep)

    # Drain and close.

    def drain(self):
        """Stops accepting, closes idle connections, and lets every other
        one close after its current answer."""
        self.draining = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.drain()
        if not self.connections:
            self._empty.set()

    async def wait_empty(self, timeout):
        """True once every connection closed, False at the timeout."""
        try:
            await asyncio.wait_for(self._empty.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def close(self):
        """Closes the port and every connection, now."""
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.connections):
            conn.abort()


def bind(host, port, backlog):
    """A listening socket: host "" is every IPv4 and IPv6 address where the
    kernel allows both on one socket, every IPv4 address otherwise."""
    if host == "" and socket.has_dualstack_ipv6():
        try:
            return socket.create_server(("::", port), family=socket.AF_INET6, backlog=backlog,
                                        dualstack_ipv6=True)
        except OSError:
            pass
    return socket.create_server((host or "0.0.0.0", port), backlog=backlog)


class Connection(asyncio.Protocol):
    """One connection's state machine; all of it runs on the loop."""

    __slots__ = ("_listener", "_loop", "_config", "_transport", "_reader", "_state", "_head",
                 "_kept_alive", "_close_after", "_peer_eof", "_reading_paused", "_writing_paused",
                 "_unsent", "deadline", "send_deadline")

    def __init__(self, listener):
        self._listener = listener
        self._loop = listener.loop
        c = self._config = listener.config
        self._reader = protocol.RequestReader(c.max_request_line_bytes, c.max_header_bytes,
                                              c.max_header_count, c.max_body_bytes)
        self._transport = None
        self._state = _CLOSED
        self._head = None
        self._kept_alive = False  # an answer was sent and the connection kept
        self._close_after = False  # close after the current answer (drain)
        self._peer_eof = False
        self._reading_paused = False
        self._writing_paused = False
        self._unsent = 0  # unsent answer bytes when the send deadline was last set
        self.deadline = float("inf")
        self.send_deadline = float("inf")

    def connection_made(self, transport):
        self._transport = transport
        # Resume writing only once everything is sent: "resumed" then means
        # "the answer is out", which is when lingering may start.
        transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER, low=0)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Header and body leave in one write, but without this a small
            # answer after a previous one may wait for the peer's delayed
            # ACK (~40 ms) under Nagle's algorithm.
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        if not self._listener.admit(self):
            resp = contract.error_response(503, "too many connections")
            transport.write(protocol.encode_response(resp.status, resp.headers, resp.body, head_request=False,
                                                     close=True, date=self._listener.date()))
            transport.close()
            return
        self._state = _IDLE
        self.deadline = self._loop.time() + self._config.header_timeout_seconds

    def data_received(self, data):
        state = self._state
        if state >= _CLOSING:
            return  # lingering: unread input is dropped
        reader = self._reader
        reader.feed(data)
        if state == _IDLE:
            self._state = _HEAD
            if self._kept_alive:
                self.deadline = self._loop.time() + self._config.header_timeout_seconds
        if state == _APP or self._writing_paused:
            # The next request waits for this one's answer, or for the peer
            # to read it; do not let it (or a flood of pipelined ones) pile
            # up without bound.
            if len(reader.buf) > self._config.max_header_bytes and not self._reading_paused:
                self._reading_paused = True
                self._transport.pause_reading()
            return
        self._advance()

    def _advance(self):
        """Reads as far as the buffer allows; hands a whole request to the app."""
        state = self._state
        if state != _HEAD and state != _BODY or self._writing_paused:
            return
        reader = self._reader
        try:
            if state == _HEAD:
                head = reader.read_head()
                if head is None:
                    if self._peer_eof:
                        self._transport.close()
                    return
                self._head = head
                self._listener.commit(self)
                self._state = _BODY
                self.deadline = self._loop.time() + self._config.body_timeout_seconds
                body = reader.read_body()
                if body is None and head.expect_continue:
                    self._transport.write(protocol.CONTINUE)
            else:
                body = reader.read_body()
        except protocol.ProtocolError as err:
            self._refuse(err.status, str(err))
            return
        if body is None:
            if self._peer_eof:
                self._transport.close()
            return
        self._state = _APP
        self.deadline = float("inf")  # the app's own deadline applies (504)
        self._listener.app.handle(self._head, body, self._reply)

    def _reply(self, resp):
        if self._state != _APP:
            return  # the connection is gone; the answer has no one to go to
        head = self._head
        listener = self._listener
        reader = self._reader
        close = (resp.close or not head.keep_alive or self._close_after or listener.draining
                 or (self._peer_eof and not reader.buf))
        try:
            data = protocol.encode_response(resp.status, resp.headers, resp.body, head_request=head.method == "HEAD",
                                            close=close, date=listener.date())
        except protocol.InvalidField as err:  # apps validate first; this is the last line
            log.error("Refused to send an answer: %s", err)
            resp = contract.error_response(500, f"invalid answer: {err}")
            data = protocol.encode_response(resp.status, resp.headers, resp.body, head_request=False,
                                            close=close, date=listener.date())
        self._transport.write(data)
        if resp.on_sent is not None:
            resp.on_sent()
        if close:
            self._close_gracefully()
            return
        self._head = None
        self._kept_alive = True
        reader.next_request()
        listener.uncommit(self)
        if self._reading_paused:
            self._reading_paused = False
            self._transport.resume_reading()
        if reader.buf:
            self._state = _HEAD
            self.deadline = self._loop.time() + self._config.header_timeout_seconds
            # Not inline: an app that replies at once would recurse once per
            # pipelined request.
            self._loop.call_soon(self._advance)
        else:
            self._state = _IDLE
            self.deadline = self._loop.time() + self._config.idle_timeout_seconds

    def _refuse(self, status, message):
        """Answers a request that cannot be served, and closes."""
        resp = contract.error_response(status, message)
        self._transport.write(protocol.encode_response(resp.status, resp.headers, resp.body, head_request=False,
                                                       close=True, date=self._listener.date()))
        self._close_gracefully()

    def _close_gracefully(self):
        """Closes after the answer is out: our side first (FIN), then we
        read and drop what the peer still sends until it closes or the
        linger deadline, so that its unread input does not turn our close
        into a reset that destroys the answer."""
        self._state = _CLOSING
        self._head = None
        self._reader.buf.clear()
        self._listener.uncommit(self, first=True)
        # Lingering starts once the answer is out; until then the send
        # deadline applies (see resume_writing).
        self.deadline = float("inf") if self._writing_paused else self._loop.time() + self._config.linger_seconds
        transport = self._transport
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        if self._peer_eof or not transport.can_write_eof():
            transport.close()
        else:
            transport.write_eof()

    def drain(self):
        """The runner is stopping: close now if idle, else after this answer."""
        if self._state == _IDLE:
            self._state = _CLOSING
            self._transport.close()
        else:
            self._close_after = True

    def evict(self):
        """Displaced by a new connection at the limit."""
        self._state = _CLOSED
        self._transport.close()

    def abort(self):
        self._state = _CLOSED
        if self._transport is not None:
            self._transport.abort()

    def expire(self, now):
        """Called by the sweep for a connection past a deadline."""
        state = self._state
        if self.send_deadline <= now:
            unsent = self._transport.get_write_buffer_size()
            if unsent < self._unsent:  # the peer did read some: a slow reader
                self._unsent = unsent
                self.send_deadline = now + self._config.send_timeout_seconds
            else:
                self.abort()  # a peer that reads nothing
        elif state == _CLOSING:
            self.abort()  # lingers too long
        elif state == _IDLE:
            self._state = _CLOSING
            self._transport.close()
        elif state == _HEAD or state == _BODY:
            self._refuse(408, "the request did not arrive in time")

    def eof_received(self):
        if self._state == _APP:
            # The peer half-closed after its request: still answer it.
            self._peer_eof = True
            return True
        if self._state == _CLOSING:
            return False  # the transport closes
        self._peer_eof = True
        return False  # no whole request will come: close

    def connection_lost(self, exc):
        self._state = _CLOSED
        self._listener.forget(self)

    def pause_writing(self):
        self._writing_paused = True
        self._unsent = self._transport.get_write_buffer_size()
        self.send_deadline = self._loop.time() + self._config.send_timeout_seconds

    def resume_writing(self):
        self._writing_paused = False
        self.send_deadline = float("inf")
        if self._state == _HEAD:
            if self._reading_paused:
                self._reading_paused = False
                self._transport.resume_reading()
            self._advance()
        elif self._state == _CLOSING:
            self.deadline = self._loop.time() + self._config.linger_seconds
