'use strict';
// Connections: one Node http server per port, hardened. What Node's own
// http (llhttp in strict mode) gives and what is added here is listed in
// ../README.md. What holds for every connection:
//
// * Every answer leaves it in a known state: the request's body has been
//   read to its last byte, or the connection is closed after the answer.
//   Refusals (framing errors, limits, deadlines) are written by the runner
//   itself, then our side is closed first and late input is read and
//   dropped for lingerSeconds, so the peer gets the answer, not a reset.
// * Deadlines: the head (headersTimeout, plus a timer for a connection that
//   never sends a byte), the body (requestTimeout), keep-alive idleness
//   (keepAliveTimeout); a call's own deadline is the app's (504).
// * At most maxConnections: a new connection at the limit closes the one
//   that has waited longest with no request in progress, or, when every
//   connection is busy, is answered 503 and closed.
//
// An app is anything with handle(req, body, reply): req is Node's
// IncomingMessage, body a Buffer with the whole request body, and
// reply(contract.Response) must be called exactly once.

const http = require('node:http');
const contract = require('./contract');

const CRLF = '\r\n';

class Listener {
  constructor({ app, config, maxConnections, name, log = console }) {
    this.app = app;
    this.config = config;
    this.limit = maxConnections;
    this.name = name;
    this.log = log;
    this.port = null;
    this.draining = false;
    // Every open connection; insertion order is how long a connection has
    // waited without a request in progress (moved to the end when an
    // answer is done), so the first idle one is the one to displace.
    this.connections = new Map();
    this._emptyWaiters = [];
    const c = config;
    this.server = http.createServer({
      maxHeaderSize: c.maxHeaderBytes,
      headersTimeout: c.headerTimeoutSeconds * 1000,
      requestTimeout: (c.headerTimeoutSeconds + c.bodyTimeoutSeconds) * 1000,
      keepAliveTimeout: c.idleTimeoutSeconds * 1000,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, c.headerTimeoutSeconds * 250)),
      insecureHTTPParser: false,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      noDelay: true,
    });
    // One more than allowed, so that too many fields can be told from just
    // enough (Node drops fields past maxHeadersCount silently).
    this.server.maxHeadersCount = c.maxHeaderCount + 1;
    // A peer that half-closes after its request still gets its answer (by
    // default Node aborts the request when the peer's FIN arrives).
    this.server.httpAllowHalfOpen = true;
    this.server.on('connection', (sock) => this._onConnection(sock));
    this.server.on('request', (req, res) => this._onRequest(req, res));
    this.server.on('checkContinue', (req, res) => this._onRequest(req, res, true));
    this.server.on('clientError', (err, sock) => this._onClientError(err, sock));
  }

  // start binds the port (0 picks a free one: see .port).
  start(host, port) {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const onListening = () => {
        this.server.off('error', reject);
        this.port = this.server.address().port;
        resolve();
      };
      if (host) this.server.listen({ host, port, backlog: 1024 }, onListening);
      else this.server.listen({ port, backlog: 1024 }, onListening); // every IPv4 and IPv6 address
    });
  }

  _onConnection(sock) {
    sock.faasBusy = false;
    sock.faasLine = 0; // bytes of a request line still without its end
    sock.faasLineDone = false;
    if (this.connections.size >= this.limit) {
      let victim = null;
      for (const [s] of this.connections) {
        if (!s.faasBusy) { victim = s; break; }
      }
      if (victim === null) {
        this._refuseRaw(sock, 503, 'too many connections');
        return;
      }
      this.connections.delete(victim);
      victim.destroy();
    }
    this.connections.set(sock, true);
    sock.once('close', () => {
      this.connections.delete(sock);
      if (this.draining && this.connections.size === 0) this._notifyEmpty();
    });
    // A connection that never sends a byte is closed at the head deadline
    // without an answer (Node's headersTimeout starts with the first byte).
    const silent = setTimeout(() => { if (sock.bytesRead === 0) sock.destroy(); },
      this.config.headerTimeoutSeconds * 1000);
    silent.unref();
    sock.once('data', () => clearTimeout(silent));
    sock.once('close', () => clearTimeout(silent));
    // The request line has a limit of its own, below the head's: checked as
    // bytes arrive, so that a line that never ends is refused at once.
    sock.prependListener('data', (chunk) => this._watchRequestLine(sock, chunk));
  }

  _watchRequestLine(sock, chunk) {
    if (sock.faasLineDone || sock.faasLingering) return;
    const nl = chunk.indexOf(10);
    if (nl >= 0) {
      sock.faasLineDone = true;
      if (sock.faasLine + nl > this.config.maxRequestLineBytes) {
        this._refuseRaw(sock, 414, 'the request line is too long');
      }
      return;
    }
    sock.faasLine += chunk.length;
    if (sock.faasLine > this.config.maxRequestLineBytes) {
      this._refuseRaw(sock, 414, 'the request line is too long');
    }
  }

  _onRequest(req, res, expectContinue = false) {
    const sock = req.socket;
    if (sock.faasLingering) return;
    sock.faasBusy = true;
    res.on('finish', () => this._answered(sock));
    const c = this.config;
    if (req.rawHeaders.length / 2 > c.maxHeaderCount) {
      this._refuseRaw(sock, 431, 'too many header fields');
      return;
    }
    if (req.httpVersionMajor !== 1) { // llhttp parses HTTP/2.0 and 0.9 request lines
      this._refuseRaw(sock, 505, 'only HTTP/1.0 and HTTP/1.1 are served');
      return;
    }
    // Node 20 requires Host in HTTP/1.1 (requireHostHeader); Node 18, the
    // Debian base's, does not, and neither refuses a repeated one.
    let hosts = 0;
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i].toLowerCase() === 'host') hosts += 1;
    if (hosts > 1 || (hosts === 0 && req.httpVersionMinor === 1)) {
      this._refuseRaw(sock, 400, 'HTTP/1.1 needs exactly one Host field');
      return;
    }
    const te = req.headers['transfer-encoding'];
    if (te !== undefined) {
      if (req.httpVersionMinor === 0) {
        this._refuseRaw(sock, 400, 'Transfer-Encoding in HTTP/1.0');
        return;
      }
      // llhttp frames by chunked only when it is the final coding, but lets
      // a request whose final coding is another one through.
      const codings = te.split(',').map((x) => x.trim().toLowerCase());
      if (codings[codings.length - 1] !== 'chunked') {
        this._refuseRaw(sock, 400, 'the final transfer coding must be chunked');
        return;
      }
      if (codings.length > 1) {
        this._refuseRaw(sock, 501, 'only the chunked transfer coding is supported');
        return;
      }
    }
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > c.maxBodyBytes) {
      this._refuseRaw(sock, 413, `the request body is over ${c.maxBodyBytes} bytes`);
      return;
    }
    if (expectContinue) res.writeContinue();
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      if (sock.faasLingering) return;
      size += chunk.length;
      if (size > c.maxBodyBytes) {
        chunks.length = 0;
        this._refuseRaw(sock, 413, `the request body is over ${c.maxBodyBytes} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (sock.faasLingering) return;
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      let replied = false;
      this.app.handle(req, body, (resp) => {
        if (replied) return;
        replied = true;
        this._reply(req, res, resp);
      });
    });
    req.on('error', () => {}); // the socket's close is handled above
  }

  _reply(req, res, resp) {
    const sock = req.socket;
    if (sock.destroyed || sock.faasLingering || res.headersSent) return;
    const headers = {};
    for (const [name, value] of Object.entries(resp.headers)) {
      if (!contract.FRAMING_FIELDS.has(name.toLowerCase())) headers[name] = value;
    }
    if (!contract.isBodyless(resp.status)) headers['Content-Length'] = String(resp.body.length);
    if (resp.close || this.draining) headers.Connection = 'close';
    try {
      res.writeHead(resp.status, headers);
    } catch (err) { // apps validate first; this is the last line
      this.log.error(`Refused to send an answer: ${err.message}`);
      const e = contract.errorResponse(500, 'invalid answer: a header cannot be sent');
      res.writeHead(500, { ...e.headers, 'Content-Length': String(e.body.length),
        ...(resp.close || this.draining ? { Connection: 'close' } : {}) });
      res.end(e.body);
      return;
    }
    res.end(contract.isBodyless(resp.status) ? undefined : resp.body);
    this._watchSend(sock);
    if (resp.onSent) resp.onSent();
  }

  // _watchSend drops a peer that reads nothing of an answer for
  // sendTimeoutSeconds; a slow reader that makes progress is kept. Node
  // would otherwise hold the unsent answer, and the connection, forever.
  _watchSend(sock) {
    if (sock.writableLength === 0 || sock.faasSendWatch) return;
    sock.faasSendWatch = true;
    let last = sock.writableLength;
    const t = setInterval(() => {
      const now = sock.writableLength;
      if (now === 0 || sock.destroyed) {
        clearInterval(t);
        sock.faasSendWatch = false;
      } else if (now >= last) {
        clearInterval(t);
        sock.destroy();
      } else {
        last = now;
      }
    }, this.config.sendTimeoutSeconds * 1000);
    t.unref();
    sock.once('close', () => clearInterval(t));
  }

  _answered(sock) {
    sock.faasBusy = false;
    sock.faasLine = 0;
    sock.faasLineDone = false;
    if (this.connections.has(sock)) { // longest-waiting is now the last
      this.connections.delete(sock);
      this.connections.set(sock, true);
    }
  }

  _onClientError(err, sock) {
    if (sock.faasLingering || sock.destroyed) return;
    if (err.code === 'ECONNRESET' || !sock.writable) {
      sock.destroy();
      return;
    }
    const msg = sock._httpMessage; // eslint-disable-line no-underscore-dangle
    if (msg && msg.headersSent) { // an answer is on its way: nothing to say
      sock.destroy();
      return;
    }
    let status = 400;
    let message = `bad request (${err.code})`;
    switch (err.code) {
      case 'HPE_HEADER_OVERFLOW':
        status = 431;
        message = 'the request head is too large';
        break;
      case 'ERR_HTTP_REQUEST_TIMEOUT':
        if (sock.bytesRead === 0) { sock.destroy(); return; }
        status = 408;
        message = 'the request did not arrive in time';
        break;
      case 'HPE_INVALID_VERSION':
        if (err.reason === 'Invalid HTTP version') { // not a framing error: a version we do not speak
          status = 505;
          message = 'only HTTP/1.0 and HTTP/1.1 are served';
        }
        break;
      default:
    }
    this._refuseRaw(sock, status, message);
  }

  // _refuseRaw answers a request that cannot be served, written on the
  // socket by the runner (the parser may be in any state), and closes.
  _refuseRaw(sock, status, message) {
    if (sock.faasLingering || sock.destroyed) return;
    const e = contract.errorResponse(status, message);
    const head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] || 'Error'}${CRLF}`
      + `Content-Type: application/json${CRLF}Content-Length: ${e.body.length}${CRLF}`
      + `Date: ${new Date().toUTCString()}${CRLF}Connection: close${CRLF}${CRLF}`;
    sock.write(Buffer.concat([Buffer.from(head, 'latin1'), e.body]));
    this._lingerClose(sock);
  }

  // _lingerClose closes our side first (FIN), then reads and drops what the
  // peer still sends until it closes or the linger deadline, so that its
  // unread input does not turn our close into a reset that destroys the
  // answer. The parser is detached: nothing more is served here.
  _lingerClose(sock) {
    sock.faasLingering = true;
    sock.faasBusy = false;
    if (this.connections.has(sock)) { // displaced before any other
      const rest = [...this.connections.keys()].filter((s) => s !== sock);
      this.connections.clear();
      this.connections.set(sock, true);
      for (const s of rest) this.connections.set(s, true);
    }
    sock.removeAllListeners('data');
    sock.removeAllListeners('timeout');
    sock.setTimeout(0);
    sock.on('data', () => {});
    sock.on('error', () => {});
    sock.resume();
    sock.end();
    const t = setTimeout(() => sock.destroy(), this.config.lingerSeconds * 1000);
    t.unref();
    sock.once('end', () => sock.destroy());
    sock.once('close', () => clearTimeout(t));
  }

  // drain stops accepting, closes idle connections, and lets every other
  // one close after its current answer (answered with Connection: close).
  drain() {
    this.draining = true;
    this.server.close();
    this.server.closeIdleConnections();
    for (const [sock] of this.connections) {
      if (!sock.faasBusy && !sock.faasLingering && sock.bytesRead === 0) sock.destroy();
    }
    if (this.connections.size === 0) this._notifyEmpty();
  }

  // waitEmpty resolves true once every connection closed, false at the
  // timeout.
  waitEmpty(timeoutSeconds) {
    if (this.connections.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutSeconds * 1000);
      this._emptyWaiters.push(() => { clearTimeout(t); resolve(true); });
    });
  }

  _notifyEmpty() {
    const w = this._emptyWaiters;
    this._emptyWaiters = [];
    for (const f of w) f();
  }

  // close closes the port and every connection, now.
  close() {
    this.server.close();
    this.server.closeAllConnections();
    for (const [sock] of this.connections) sock.destroy();
  }
}

module.exports = { Listener };
