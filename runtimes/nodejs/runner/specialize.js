'use strict';
// Pool mode: one specialization, over HTTP, from the gateway only.
//
// A pool pod starts with no code. The gateway claims it by POSTing the
// function to /_/specialize (admin port) with the pod's own token: the first
// valid request wins and every later one is refused (409, with the SHA-256
// of the accepted body as specHash), so the specialization itself is the
// atomic claim. The pod knows only the SHA-256 of its token. A malformed
// body (400) or a wrong token (403) claims nothing; code that then fails to
// load (422) spends the pod, which exits with the load-failure code; a
// later specialization of a spent pod is answered 422 again, never 409.
// A specialization carrying a package is answered the same 422: function
// packages are supported for the python runtime only.

const crypto = require('node:crypto');
const api = require('./runnerapi');

class SpecializeError extends Error {
  constructor(status, message, extra = {}) {
    super(message);
    this.name = 'SpecializeError';
    this.status = status;
    this.extra = extra;
  }
}

function sha256Hex(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

class Specializer {
  constructor(tokenSHA256) {
    this._tokenSHA256 = tokenSHA256;
    this._state = 'idle'; // idle -> specializing -> specialized | failed
    this._failure = '';
    this._specHash = '';
    this.micros = null; // how long the specialization took, once done
    this._started = 0n;
  }

  get idle() { return this._state === 'idle'; }

  get state() { return this._state; }

  // claim checks the token, parses body (a Buffer) and claims the pod for
  // it; returns the specialization. Throws SpecializeError (404, 403, 422,
  // 409, 400).
  claim(authorization, body) {
    if (!this._tokenSHA256) throw new SpecializeError(404, 'this pod is not a pool pod');
    const scheme = api.AUTHORIZATION_SCHEME;
    const auth = typeof authorization === 'string' ? authorization : '';
    const token = auth.startsWith(scheme) ? auth.slice(scheme.length) : '';
    const digest = Buffer.from(sha256Hex(Buffer.from(token, 'latin1')));
    const want = Buffer.from(this._tokenSHA256);
    if (!token || digest.length !== want.length || !crypto.timingSafeEqual(digest, want)) {
      throw new SpecializeError(403, 'not allowed to specialize this pod');
    }
    if (this._state === 'failed') {
      // Never "already specialized" for a spec that did not load: a second
      // gateway replica must learn it cannot load either.
      throw new SpecializeError(422, this._failure);
    }
    if (this._state !== 'idle') {
      throw new SpecializeError(409, 'this pod is already specialized',
        { [api.SPECIALIZE_CONFLICT_SPEC_HASH]: this._specHash });
    }
    const spec = parse(body);
    this._state = 'specializing';
    this._specHash = sha256Hex(body);
    this._started = process.hrtime.bigint();
    return spec;
  }

  // failed marks the claimed spec as one that did not load.
  failed(reason) {
    this._state = 'failed';
    this._failure = reason;
  }

  // done marks the pod specialized; returns how long it took in µs.
  done() {
    this.micros = Math.max(1, Number((process.hrtime.bigint() - this._started) / 1000n));
    this._state = 'specialized';
    return this.micros;
  }
}

// parse returns the specialization in a request body; SpecializeError 400
// if it is not one.
function parse(body) {
  let spec;
  try {
    spec = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new SpecializeError(400, `specialization is not valid JSON: ${err.message}`);
  }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec) || typeof spec[api.SPEC_CODE] !== 'string') {
    throw new SpecializeError(400, 'specialization needs a JSON object with code');
  }
  const env = spec[api.SPEC_ENV] === undefined || spec[api.SPEC_ENV] === null ? {} : spec[api.SPEC_ENV];
  if (typeof env !== 'object' || Array.isArray(env) || !Object.values(env).every((v) => typeof v === 'string')) {
    throw new SpecializeError(400, 'env must map names to strings');
  }
  if (Object.entries(env).some(([k, v]) => !k || k.includes('=') || k.includes('\0') || v.includes('\0'))) {
    throw new SpecializeError(400, 'env has a name or value the environment cannot hold');
  }
  const pkg = parsePackage(spec[api.SPEC_PACKAGE]);
  if (pkg !== null && spec[api.SPEC_CODE]) {
    throw new SpecializeError(400, 'specialization has both code and a package');
  }
  const timeout = Number(spec[api.SPEC_TIMEOUT_SECONDS] || api.DEFAULT_TIMEOUT_SECONDS);
  const concurrency = Math.trunc(Number(spec[api.SPEC_CONCURRENCY] || api.DEFAULT_CONCURRENCY));
  if (!(timeout > 0) || !Number.isFinite(timeout) || !Number.isFinite(concurrency)) {
    throw new SpecializeError(400, 'timeoutSeconds must be positive and concurrency a number');
  }
  return {
    function: String(spec[api.SPEC_FUNCTION] ?? ''),
    handler: String(spec[api.SPEC_HANDLER] || api.DEFAULT_HANDLER),
    code: spec[api.SPEC_CODE],
    // Packages are python only: a well-formed one is claimed and then
    // refused as a load failure (422), like code that does not load.
    package: pkg,
    env,
    timeoutSeconds: timeout,
    concurrency: Math.max(1, concurrency),
  };
}

// parsePackage returns a specialization's package object ({url, ticket,
// digest, module}), or null without one; SpecializeError 400 if it is not
// one (the same shape the python runner accepts, so that both answer a
// malformed body 400 and a well-formed one by what they can load).
function parsePackage(value) {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value) || typeof value[api.PACKAGE_URL] !== 'string' || !value[api.PACKAGE_URL]) {
    throw new SpecializeError(400, 'package needs a JSON object with url');
  }
  const out = { url: value[api.PACKAGE_URL] };
  for (const [key, field] of [[api.PACKAGE_TICKET, 'ticket'], [api.PACKAGE_DIGEST, 'digest'], [api.PACKAGE_MODULE, 'module']]) {
    const v = value[key];
    if (v !== undefined && v !== null && typeof v !== 'string') {
      throw new SpecializeError(400, `package ${key} must be a string`);
    }
    out[field] = v || '';
  }
  out.module = out.module || api.DEFAULT_PACKAGE_MODULE;
  return out;
}

module.exports = { SpecializeError, Specializer, parse, sha256Hex };
