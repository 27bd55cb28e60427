'use strict';
// The handler contract: what a handler receives and what it may return.
//
// A handler is `module.exports = async (req) => ...` (or a named export).
// It returns, or resolves to, one of:
//   string                          -> 200, text/plain; charset=utf-8
//   Buffer / Uint8Array             -> 200, application/octet-stream
//   object, array, number, boolean  -> 200, application/json
//   null / undefined                -> 204, no body
//   {status, headers, body}         -> an object with a numeric status and
//                                      no other keys than these three; body
//                                      is any of the above
// What HTTP forbids is refused here, never sent: a status below 200 and a
// header that is not a token name with a latin-1 value free of control
// characters are answered 500 (InvalidAnswer). The body of a 204 or 304
// is dropped, as is every body answering HEAD (Node's http does that).

const api = require('./runnerapi');

// A request the handler cannot use (req.json() of a body that is not JSON);
// answered 400 when the handler lets it propagate.
class BadRequest extends Error {
  constructor(message) {
    super(message);
    this.name = 'BadRequest';
  }
}

// The handler returned something that cannot be sent; answered 500. Its
// message names what is wrong, never the caller's data.
class InvalidAnswer extends Error {
  constructor(message) {
    super(message);
    this.name = 'InvalidAnswer';
  }
}

// The request's header fields, looked up case-insensitively:
// req.headers.get('content-type'). The first value of a repeated field wins
// in get(); getAll() returns all of them; a missing field is null, as with
// the Fetch API's Headers.
class Headers {
  // raw is [name, value, name, value, ...] (Node's rawHeaders) or an object.
  constructor(raw = []) {
    this._fields = [];
    if (Array.isArray(raw)) {
      for (let i = 0; i + 1 < raw.length; i += 2) this._fields.push([raw[i], raw[i + 1]]);
    } else {
      for (const [k, v] of Object.entries(raw)) this._fields.push([k, String(v)]);
    }
    this._index = null;
  }

  _lookup() {
    if (this._index === null) {
      this._index = new Map();
      for (const [name, value] of this._fields) {
        const k = name.toLowerCase();
        if (!this._index.has(k)) this._index.set(k, []);
        this._index.get(k).push(value);
      }
    }
    return this._index;
  }

  get(name) {
    const v = this._lookup().get(String(name).toLowerCase());
    return v ? v[0] : null;
  }

  getAll(name) {
    const v = this._lookup().get(String(name).toLowerCase());
    return v ? [...v] : [];
  }

  has(name) {
    return this._lookup().has(String(name).toLowerCase());
  }

  keys() { return this._fields.map(([n]) => n); }

  entries() { return this._fields.map(([n, v]) => [n, v]); }

  [Symbol.iterator]() { return this.entries()[Symbol.iterator](); }

  get size() { return this._fields.length; }

  toJSON() { return Object.fromEntries(this._lookup()); }
}

// One call, as the handler sees it.
class Request {
  constructor(method, path, queryString, headers, body) {
    this.method = method;
    // The path after /invoke/<name>, '/' when there is none; not decoded.
    this.path = path;
    this.queryString = queryString;
    this.headers = headers instanceof Headers ? headers : new Headers(headers);
    this.body = body;
    // Every value of each query parameter, in order; and the first one.
    this.queryList = {};
    this.query = {};
    if (queryString) {
      for (const [k, v] of new URLSearchParams(queryString)) {
        if (!Object.hasOwn(this.queryList, k)) {
          this.queryList[k] = [];
          this.query[k] = v;
        }
        this.queryList[k].push(v);
      }
    }
  }

  // The body decoded as UTF-8 (invalid bytes replaced).
  get text() {
    return this.body.toString('utf8');
  }

  // The body parsed as JSON (an empty body is null); BadRequest (400) when
  // it is not JSON.
  json() {
    if (this.body.length === 0) return null;
    try {
      return JSON.parse(this.body.toString('utf8'));
    } catch (err) {
      throw new BadRequest(`request body is not valid JSON: ${err.message}`);
    }
  }
}

// Split a request target into path and query.
function splitTarget(url) {
  let target = url || '/';
  const abs = /^https?:\/\/[^/?#]*/i.exec(target);
  if (abs) target = target.slice(abs[0].length) || '/';
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  return [path || '/', query.split('#')[0]];
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BAD_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
// Fields that frame the message or the connection: the runner's own.
const FRAMING_FIELDS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive',
  'upgrade', 'trailer', 'proxy-connection']);

// checkField throws InvalidAnswer unless name: value can be sent as one
// header line. Its message never quotes the value (it may be the caller's).
function checkField(name, value) {
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    throw new InvalidAnswer('a header name is not a valid token');
  }
  if (BAD_VALUE_CHAR.test(value)) {
    throw new InvalidAnswer(`header ${name} has a control character (CR, LF, NUL...) or a character outside latin-1`);
  }
}

function isBodyless(status) {
  return status < 200 || status === 204 || status === 304;
}

// A normalized answer: status, headers (object of strings), body Buffer.
// close asks for the connection to be closed after it; onSent, if set, runs
// once the answer has been handed to the connection.
class Response {
  constructor(status, headers, body, { close = false, onSent = null } = {}) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.close = close;
    this.onSent = onSent;
  }
}

const ANSWER_KEYS = new Set(['status', 'headers', 'body']);

function isAnswerObject(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v) || v instanceof Uint8Array) {
    return false;
  }
  if (typeof v.status !== 'number') return false;
  return Object.keys(v).every((k) => ANSWER_KEYS.has(k));
}

// toResponse normalizes a handler's return value; InvalidAnswer if it
// cannot be sent.
function toResponse(result) {
  let status = 200;
  let headers = {};
  let value = result;
  if (isAnswerObject(result)) {
    status = result.status;
    value = result.body;
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      throw new InvalidAnswer(`status must be an integer from 100 to 599, not ${String(status)}`);
    }
    if (status < 200) {
      throw new InvalidAnswer(`status ${status} is an interim answer, which a handler may not send`);
    }
    const h = result.headers;
    if (h !== undefined && h !== null) {
      if (typeof h !== 'object' || Array.isArray(h)) throw new InvalidAnswer('headers must be an object');
      headers = {};
      for (const [k, v] of Object.entries(h)) {
        const value2 = String(v);
        checkField(k, value2);
        headers[k] = value2;
      }
    }
  }
  const [contentType, body] = encode(value);
  if ((value === null || value === undefined) && status === 200) status = 204;
  if (isBodyless(status)) {
    return new Response(status, headers, Buffer.alloc(0));
  }
  if (contentType && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
    headers['Content-Type'] = contentType;
  }
  return new Response(status, headers, body);
}

function encode(value) {
  if (value === null || value === undefined) return [null, Buffer.alloc(0)];
  if (typeof value === 'string') return ['text/plain; charset=utf-8', Buffer.from(value, 'utf8')];
  if (Buffer.isBuffer(value)) return ['application/octet-stream', value];
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    return ['application/octet-stream', Buffer.from(value)];
  }
  if (typeof value === 'object' || typeof value === 'number' || typeof value === 'boolean') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new InvalidAnswer('the answer is not JSON: a number that is not finite');
    }
    let text;
    try {
      text = JSON.stringify(value);
    } catch (err) { // a cycle, a BigInt inside...
      throw new InvalidAnswer(`the answer is not JSON: ${err.message}`);
    }
    if (text === undefined) throw new InvalidAnswer('the answer is not JSON');
    return ['application/json', Buffer.from(text, 'utf8')];
  }
  throw new InvalidAnswer(`handler returned ${typeof value}, which is not a valid answer`);
}

// errorResponse is the JSON error body shared with the gateway:
// {"error", "status"} and any extra fields.
function errorResponse(status, message, extra = {}, opts = {}) {
  const payload = { [api.ERROR_ERROR]: message, [api.ERROR_STATUS]: status, ...extra };
  return new Response(status, { 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(payload)), opts);
}

// errorName is what "function raised <Name>" names for a thrown value.
function errorName(err) {
  if (err !== null && typeof err === 'object') {
    if (typeof err.name === 'string' && err.name) return err.name;
    if (err.constructor && err.constructor.name) return err.constructor.name;
  }
  return typeof err;
}

module.exports = {
  BadRequest, InvalidAnswer, Headers, Request, Response, FRAMING_FIELDS,
  checkField, isBodyless, toResponse, errorResponse, errorName, splitTarget,
};
