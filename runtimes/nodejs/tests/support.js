'use strict';
// Test support: a real runner process, and a raw-socket HTTP client that
// reads exactly one response (mirrors runtimes/python/tests/support.py).

const childProcess = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'runner', 'main.js');
const ENTRYPOINT = path.join(ROOT, 'runner', 'entrypoint.sh');
const CONTRACT_FILE = path.resolve(ROOT, '..', 'contract', 'runner.json');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A real runner process (node runner/main.js, or the image's entrypoint),
// started with the given code and environment; serving once it logged so.
class RunnerProcess {
  static async start(code, env = {}, { entrypoint = false, fileName = 'function.js' } = {}) {
    const p = new RunnerProcess();
    p.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-runner-test-'));
    p.port = await freePort();
    p.adminPort = await freePort();
    p.terminationLog = path.join(p.dir, 'termination-log');
    const full = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FAAS_') && !k.startsWith('NODE_TEST')) full[k] = v;
    Object.assign(full, {
      FAAS_PORT: String(p.port),
      FAAS_ADMIN_PORT: String(p.adminPort),
      FAAS_HTTP_HOST: '127.0.0.1',
      FAAS_TERMINATION_LOG: p.terminationLog,
      FAAS_FUNCTION_NAME: 'test',
    });
    if (code !== null && code !== undefined) {
      const file = path.join(p.dir, fileName);
      fs.writeFileSync(file, code);
      full.FAAS_CODE_PATH = file;
    }
    Object.assign(full, env);
    const argv = entrypoint ? ['/bin/sh', [ENTRYPOINT]] : [process.execPath, [MAIN]];
    if (entrypoint) full.FAAS_NODE = process.execPath;
    p.proc = childProcess.spawn(argv[0], argv[1], { cwd: p.dir, env: full, stdio: ['ignore', 'ignore', 'pipe'] });
    p.log = '';
    p.exited = new Promise((resolve) => p.proc.on('exit', (code2, signal) => resolve(code2 === null ? signal : code2)));
    p._serving = new Promise((resolve) => {
      p.proc.stderr.setEncoding('utf8');
      p.proc.stderr.on('data', (d) => {
        p.log += d;
        if (/Serving function|Pool runner waiting/.test(p.log)) resolve(true);
        for (const w of p._logWaiters) w();
      });
      p.exited.then(() => resolve(false));
    });
    p._logWaiters = new Set();
    return p;
  }

  async waitServing() {
    if (!(await this._serving)) throw new Error(`runner did not start:\n${this.log}`);
    return this;
  }

  waitLog(text, timeoutMs = 10000) {
    if (this.log.includes(text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this._logWaiters.delete(check); reject(new Error(`never logged ${text}:\n${this.log}`)); }, timeoutMs);
      const check = () => { if (this.log.includes(text)) { clearTimeout(t); this._logWaiters.delete(check); resolve(); } };
      this._logWaiters.add(check);
    });
  }

  async waitExit(timeoutMs = 15000) {
    let t;
    const timeout = new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`runner did not exit:\n${this.log}`)), timeoutMs); });
    try { return await Promise.race([this.exited, timeout]); } finally { clearTimeout(t); }
  }

  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 15000);
      await this.exited;
      clearTimeout(t);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // request makes one request with Node's http client on a fresh
  // connection; resolves {status, headers, body}.
  request(method, p, { body, headers = {}, admin = false } = {}) {
    return httpRequest(admin ? this.adminPort : this.port, method, p, { body, headers });
  }
}

function httpRequest(port, method, p, { body, headers = {} } = {}) {
  const http = require('node:http'); // eslint-disable-line global-require
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// One response as read off a socket.
class RawResponse {
  constructor(status, headers, body) {
    this.status = status;
    this.headers = headers; // {lower-case name: [values]}
    this.body = body;
  }

  header(name) {
    const v = this.headers[name.toLowerCase()];
    return v ? v[0] : null;
  }

  toString() {
    return `RawResponse(${this.status}, ${JSON.stringify(this.headers)}, ${JSON.stringify(this.body.subarray(0, 200).toString('latin1'))})`;
  }
}

// A raw TCP connection that sends arbitrary bytes and reads responses by
// the rules a correct client follows: no body for 1xx, 204, 304 and answers
// to HEAD; Content-Length otherwise, else until EOF.
class RawClient {
  static connect(port, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const c = new RawClient();
      c.timeoutMs = timeoutMs;
      c.buf = Buffer.alloc(0);
      c.eof = false;
      c._wake = null;
      c.sock = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(c));
      c.sock.on('data', (d) => { c.buf = Buffer.concat([c.buf, d]); c._notify(); });
      c.sock.on('end', () => { c.eof = true; c._notify(); });
      c.sock.on('close', () => { c.eof = true; c._notify(); });
      c.sock.on('error', (err) => { c.eof = true; c.error = err; c._notify(); reject(err); });
    });
  }

  _notify() {
    const w = this._wake;
    this._wake = null;
    if (w) w();
  }

  send(data) {
    return new Promise((resolve) => {
      if (this.sock.destroyed || this.eof) { resolve(false); return; }
      this.sock.write(data, (err) => resolve(!err));
    });
  }

  close() { this.sock.destroy(); }

  // _fill waits for more bytes; rejects on EOF or after timeoutMs.
  _fill(timeoutMs = this.timeoutMs) {
    if (this.eof) return Promise.reject(new Error('connection closed'));
    const before = this.buf.length;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this._wake = null; reject(new Error('timed out')); }, timeoutMs);
      this._wake = () => {
        clearTimeout(t);
        if (this.buf.length > before) resolve();
        else reject(new Error('connection closed'));
      };
    });
  }

  async readResponse({ head = false } = {}) {
    let end;
    while ((end = this.buf.indexOf('\r\n\r\n')) < 0) await this._fill();
    const raw = this.buf.subarray(0, end).toString('latin1');
    this.buf = this.buf.subarray(end + 4);
    const lines = raw.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const status = Number(m[1]);
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      const name = line.slice(0, i).trim().toLowerCase();
      (headers[name] = headers[name] || []).push(line.slice(i + 1).trim());
    }
    if (status < 200 || head || status === 204 || status === 304) return new RawResponse(status, headers, Buffer.alloc(0));
    if (headers['content-length']) {
      const n = Number(headers['content-length'][0]);
      while (this.buf.length < n) await this._fill();
      const body = this.buf.subarray(0, n);
      this.buf = this.buf.subarray(n);
      return new RawResponse(status, headers, body);
    }
    for (;;) {
      try { await this._fill(); } catch { break; }
    }
    const body = this.buf;
    this.buf = Buffer.alloc(0);
    return new RawResponse(status, headers, body);
  }

  // closedByPeer resolves true once the peer closed (EOF or reset) within
  // timeoutMs with no further response bytes; false if it stayed open.
  async closedByPeer(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.eof) return this.buf.length === 0;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      try { await this._fill(left); } catch (err) {
        if (err.message === 'timed out') return false;
      }
    }
  }
}

// requestBytes is a well-formed request; headers are [name, value] pairs.
function requestBytes(method = 'GET', p = '/', headers = [], body = Buffer.alloc(0), host = 't') {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1');
  const lines = [`${method} ${p} HTTP/1.1`, `Host: ${host}`];
  for (const [n, v] of headers) lines.push(`${n}: ${v}`);
  if (b.length && !headers.some(([n]) => ['content-length', 'transfer-encoding'].includes(n.toLowerCase()))) {
    lines.push(`Content-Length: ${b.length}`);
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), b]);
}

module.exports = { CONTRACT_FILE, ENTRYPOINT, MAIN, ROOT, RawClient, RawResponse, RunnerProcess, freePort, httpRequest, requestBytes };
