'use strict';
// Unit tests of the handler contract: what a handler receives (Request,
// Headers) and what each return value becomes; the calls' errors, timeout
// and concurrency; the loader; the specializer; settings.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { describe, it } = require('node:test');
const api = require('../runner/runnerapi');
const config = require('../runner/config');
const contract = require('../runner/contract');
const loader = require('../runner/loader');
const { Calls } = require('../runner/calls');
const { Specializer, SpecializeError } = require('../runner/specialize');

const quiet = { info() {}, warn() {}, error() {} };

function request({ method = 'GET', path = '/', query = '', headers = [], body = '' } = {}) {
  return new contract.Request(method, path, query, new contract.Headers(headers), Buffer.from(body));
}

function call(handler, req = request(), opts = {}) {
  const calls = new Calls({ handler, log: quiet, ...opts });
  return new Promise((resolve) => calls.handle(req, resolve));
}

const json = (resp) => JSON.parse(resp.body.toString());

describe('request', () => {
  it('has method, path, query and queryList', () => {
    const req = request({ method: 'POST', path: '/a/b', query: 'x=1&x=2&y=&z=a+b%21' });
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/a/b');
    assert.deepEqual(req.query, { x: '1', y: '', z: 'a b!' });
    assert.deepEqual(req.queryList, { x: ['1', '2'], y: [''], z: ['a b!'] });
    assert.deepEqual(request().query, {});
  });

  it('looks headers up case-insensitively, first value first', () => {
    const req = request({ headers: ['Content-Type', 'application/json', 'X-A', '1', 'x-a', '2'] });
    assert.equal(req.headers.get('content-type'), 'application/json');
    assert.equal(req.headers.get('CONTENT-TYPE'), 'application/json');
    assert.equal(req.headers.get('x-a'), '1');
    assert.deepEqual(req.headers.getAll('X-A'), ['1', '2']);
    assert.equal(req.headers.get('missing'), null);
    assert.ok(req.headers.has('x-A'));
    assert.equal(req.headers.size, 3);
  });

  it('has body as a Buffer, text and json()', () => {
    const req = request({ body: '{"a": [1, "é"]}' });
    assert.ok(Buffer.isBuffer(req.body));
    assert.equal(req.text, '{"a": [1, "é"]}');
    assert.deepEqual(req.json(), { a: [1, 'é'] });
    assert.equal(request().json(), null);
    assert.throws(() => request({ body: '{nope' }).json(), contract.BadRequest);
  });

  it('splits request targets', () => {
    assert.deepEqual(contract.splitTarget('/a?b=1'), ['/a', 'b=1']);
    assert.deepEqual(contract.splitTarget(''), ['/', '']);
    assert.deepEqual(contract.splitTarget('http://h:1/p?q'), ['/p', 'q']);
    assert.deepEqual(contract.splitTarget('http://h'), ['/', '']);
  });
});

describe('answers', () => {
  const cases = [
    ['a string', 'hi', 200, 'text/plain; charset=utf-8', 'hi'],
    ['a Buffer', Buffer.from([0, 1]), 200, 'application/octet-stream', '\x00\x01'],
    ['a Uint8Array', new Uint8Array([65]), 200, 'application/octet-stream', 'A'],
    ['an object', { a: 1 }, 200, 'application/json', '{"a":1}'],
    ['an array', [1, 'x'], 200, 'application/json', '[1,"x"]'],
    ['a number', 42, 200, 'application/json', '42'],
    ['a boolean', false, 200, 'application/json', 'false'],
    ['null', null, 204, undefined, ''],
    ['undefined', undefined, 204, undefined, ''],
    ['{status, headers, body}', { status: 201, headers: { 'X-A': 'b' }, body: 'made' }, 201, 'text/plain; charset=utf-8', 'made'],
    ['{status, body: object}', { status: 404, body: { error: 'no' } }, 404, 'application/json', '{"error":"no"}'],
    ['{status} alone', { status: 202 }, 202, undefined, ''],
    ['a Content-Type of its own', { status: 200, headers: { 'content-type': 'text/html' }, body: '<p>' }, 200, undefined, '<p>'],
    ['{status: "ok"} (JSON, not an answer)', { status: 'ok' }, 200, 'application/json', '{"status":"ok"}'],
    ['an object with other keys', { status: 1, x: 2 }, 200, 'application/json', '{"status":1,"x":2}'],
    ['a 204 with a body', { status: 204, body: 'POISON' }, 204, undefined, ''],
    ['a 304 with a body', { status: 304, body: 'POISON' }, 304, undefined, ''],
  ];
  for (const [name, value, status, type, body] of cases) {
    it(`turns ${name} into ${status}`, () => {
      const resp = contract.toResponse(value);
      assert.equal(resp.status, status);
      if (type !== undefined) assert.equal(resp.headers['Content-Type'], type);
      assert.equal(resp.body.toString('latin1'), body);
    });
  }

  it('refuses what cannot be sent', () => {
    for (const [name, value, pattern] of [
      ['an interim status', { status: 101, body: '' }, /interim/],
      ['a status out of range', { status: 600 }, /100 to 599/],
      ['a fractional status', { status: 200.5 }, /integer/],
      ['CR LF in a value', { status: 200, headers: { 'X-A': 'a\r\nSet-Cookie: x' } }, /control character/],
      ['a bad name', { status: 200, headers: { 'X A': 'a' } }, /token/],
      ['a character outside latin-1', { status: 200, headers: { 'X-A': '\u2603' } }, /latin-1/],
      ['headers that are not an object', { status: 200, headers: ['a'] }, /headers/],
      ['a function', () => {}, /not a valid answer/],
      ['a symbol', Symbol('s'), /not a valid answer/],
      ['a BigInt', 1n, /not a valid answer/],
      ['a cycle', (() => { const a = {}; a.a = a; return a; })(), /not JSON/],
      ['NaN', NaN, /not JSON/],
    ]) {
      assert.throws(() => contract.toResponse(value), (err) => err instanceof contract.InvalidAnswer && pattern.test(err.message), name);
    }
  });

  it('error bodies are {"error", "status"}', () => {
    const resp = contract.errorResponse(503, 'nope', { x: 1 });
    assert.equal(resp.status, 503);
    assert.equal(resp.headers['Content-Type'], 'application/json');
    assert.deepEqual(json(resp), { error: 'nope', status: 503, x: 1 });
  });
});

describe('calls', () => {
  it('serves sync and async handlers', async () => {
    assert.equal((await call(() => 'sync')).body.toString(), 'sync');
    assert.equal((await call(async () => 'async')).body.toString(), 'async');
    assert.equal((await call(() => Promise.resolve({ status: 201, body: 'p' }))).status, 201);
  });

  it('answers a thrown error 500 without its stack', async () => {
    for (const [thrown, name] of [[new TypeError('secret detail'), 'TypeError'], ['a string', 'string'],
      [{ custom: true }, 'Object'], [null, 'object']]) {
      const logged = [];
      const resp = await call(async () => { throw thrown; }, request(), { log: { error: (m) => logged.push(m) } });
      assert.equal(resp.status, 500);
      assert.deepEqual(json(resp), { error: `function raised ${name}`, status: 500 });
      assert.ok(!resp.body.toString().includes('secret'));
      assert.equal(logged.length, 1);
    }
  });

  it('answers bad JSON 400', async () => {
    const resp = await call((req) => req.json(), request({ body: '{' }));
    assert.equal(resp.status, 400);
    assert.match(json(resp).error, /not valid JSON/);
  });

  it('answers an invalid answer 500', async () => {
    const resp = await call(() => ({ status: 200, headers: { 'X-A': 'a\nb' } }));
    assert.equal(resp.status, 500);
    assert.match(json(resp).error, /^function returned an invalid answer: /);
  });

  it('answers 500 at once when reading the answer throws (a getter, a Proxy)', async () => {
    for (const answer of [
      { status: 200, get headers() { throw new Error('x'); }, body: 'a' },
      { status: 200, headers: new Proxy({}, { ownKeys() { throw 7; } }), body: 'a' },
    ]) {
      const resp = await call(() => answer);
      assert.equal(resp.status, 500);
      assert.match(json(resp).error, /^function returned an invalid answer: reading it raised /);
    }
  });

  it('answers past the timeout 504 and keeps serving', async () => {
    const calls = new Calls({ handler: (req) => (req.path === '/slow' ? new Promise(() => {}) : 'fast'),
      timeoutSeconds: 0.05, concurrency: 1, log: quiet });
    const slow = await new Promise((resolve) => calls.handle(request({ path: '/slow' }), resolve));
    assert.equal(slow.status, 504);
    assert.match(json(slow).error, /did not answer within 0.05s/);
    // The one slot was given back: the next call is served.
    const fast = await new Promise((resolve) => calls.handle(request(), resolve));
    assert.equal(fast.body.toString(), 'fast');
    assert.deepEqual({ ...calls.stats(), idleSeconds: 0 }, { calls: 2, inFlight: 0, idleSeconds: 0 });
  });

  it('runs at most concurrency handlers at once, the rest in order', async () => {
    let running = 0;
    let most = 0;
    const order = [];
    const releases = [];
    const calls = new Calls({
      handler: async (req) => {
        running += 1; most = Math.max(most, running); order.push(req.path);
        await new Promise((r) => { releases.push(r); });
        running -= 1;
        return req.path;
      },
      concurrency: 2, log: quiet,
    });
    const answers = ['/1', '/2', '/3', '/4'].map((p) => new Promise((resolve) => calls.handle(request({ path: p }), resolve)));
    await new Promise(setImmediate);
    assert.equal(running, 2);
    assert.equal(calls.stats().inFlight, 4);
    while (order.length < 4 || releases.length) {
      if (releases.length) releases.shift()();
      await new Promise(setImmediate);
    }
    assert.deepEqual((await Promise.all(answers)).map((r) => r.body.toString()), ['/1', '/2', '/3', '/4']);
    assert.deepEqual(order, ['/1', '/2', '/3', '/4']);
    assert.equal(most, 2);
  });

  it('answers 503 before code is loaded', async () => {
    assert.equal((await call(null)).status, 503);
  });
});

describe('loader', () => {
  const file = '/tmp/code/function.js';
  it('finds the handler', () => {
    assert.equal(loader.loadHandler("module.exports = (req) => 'a'", 'handle', file)(), 'a');
    assert.equal(loader.loadHandler("exports.handle = () => 'b'", 'handle', file)(), 'b');
    assert.equal(loader.loadHandler("module.exports = { main: () => 'c' }", 'main', file)(), 'c');
    assert.equal(loader.loadHandler("module.exports = async () => 'd'; module.exports.other = 1", 'handle', file).constructor.name, 'AsyncFunction');
    assert.equal(loader.loadHandler("exports.handle = () => require('node:path').basename(__filename)", 'handle', file)(), 'function.js');
  });

  it('says why code does not load, with file and line', () => {
    for (const [src, name, pattern] of [
      ['exports.handle = (req) => {\n  return 1\n', 'handle', /^SyntaxError: .* \(function\.js, line 3\)$/],
      ['\n\nthrow new TypeError("boom")', 'handle', /^function\.js raised TypeError while loading: boom \(function\.js, line 3\)$/],
      ['exports.main = () => 1', 'handle', /^handler "handle" is not exported by function\.js$/],
      ['exports.handle = 1', 'handle', /^handler "handle" in function\.js is not a function$/],
      ['module.exports = () => 1', 'main', /^handler "main" is not exported/],
      ['require("no-such-module")', 'handle', /raised Error while loading: Cannot find module/],
    ]) {
      assert.throws(() => loader.loadHandler(src, name, file), (err) => err instanceof loader.LoadError && pattern.test(err.message), src);
    }
  });
});

describe('specializer', () => {
  const TOKEN = 'secret';
  const hash = crypto.createHash('sha256').update(TOKEN).digest('hex');
  const body = Buffer.from(JSON.stringify({ function: 'ns/f', code: 'x', env: { A: 'b' }, timeoutSeconds: 5, concurrency: 2 }));
  const auth = api.AUTHORIZATION_SCHEME + TOKEN;
  const status = (fn) => { try { fn(); } catch (err) { assert.ok(err instanceof SpecializeError); return err; } return null; };

  it('takes one specialization with the right token', () => {
    const s = new Specializer(hash);
    assert.equal(status(() => s.claim('Bearer wrong', body)).status, 403);
    assert.equal(status(() => s.claim(TOKEN, body)).status, 403);
    assert.equal(status(() => s.claim(undefined, body)).status, 403);
    assert.equal(status(() => s.claim(auth, Buffer.from('{'))).status, 400);
    assert.ok(s.idle, 'a refused specialization claims nothing');
    const spec = s.claim(auth, body);
    assert.deepEqual(spec, { function: 'ns/f', handler: 'handle', code: 'x', package: null, env: { A: 'b' }, timeoutSeconds: 5, concurrency: 2 });
    assert.ok(!s.idle);
    assert.ok(s.done() >= 1);
    const conflict = status(() => s.claim(auth, Buffer.from('{"code": "y"}')));
    assert.equal(conflict.status, 409);
    assert.deepEqual(conflict.extra, { specHash: crypto.createHash('sha256').update(body).digest('hex') });
  });

  it('answers a spec that failed 422 again, never 409', () => {
    const s = new Specializer(hash);
    s.claim(auth, body);
    s.failed('SyntaxError: x (function.js, line 1)');
    for (let i = 0; i < 2; i += 1) {
      const err = status(() => s.claim(auth, body));
      assert.equal(err.status, 422);
      assert.equal(err.message, 'SyntaxError: x (function.js, line 1)');
    }
    assert.equal(status(() => s.claim('Bearer wrong', body)).status, 403);
  });

  it('claims a package specialization (refused later, as a load failure)', () => {
    const s = new Specializer(hash);
    const spec = s.claim(auth, Buffer.from('{"code": "", "package": {"url": "http://f/p", "digest": "sha256:00"}}'));
    assert.deepEqual(spec.package, { url: 'http://f/p', ticket: '', digest: 'sha256:00', module: api.DEFAULT_PACKAGE_MODULE });
    assert.ok(!s.idle);
  });

    it('is 404 in a pod that is not a pool pod', () => {
    assert.equal(status(() => new Specializer('').claim(auth, body)).status, 404);
  });

  it('refuses malformed specializations', () => {
    const s = new Specializer(hash);
    for (const b of ['[]', '{}', '{"code": 1}', '{"code": "", "env": {"A": 1}}', '{"code": "", "env": {"A=B": "x"}}',
      '{"code": "", "timeoutSeconds": -1}', '{"code": "", "concurrency": "x"}',
      '{"code": "", "package": "http://f/p"}', '{"code": "", "package": {}}', '{"code": "", "package": {"url": ""}}',
      '{"code": "", "package": {"url": "http://f/p", "ticket": 1}}', '{"code": "x", "package": {"url": "http://f/p"}}']) {
      assert.equal(status(() => s.claim(auth, Buffer.from(b))).status, 400, b);
    }
    assert.ok(s.idle);
  });
});

describe('settings', () => {
  it('reads the environment, keeps defaults for unset or empty variables', () => {
    const c = config.fromEnv({ FAAS_TIMEOUT_SECONDS: '2.5', FAAS_CONCURRENCY: '0', FAAS_HANDLER: '', FAAS_HTTP_MAX_CONNECTIONS: '7' });
    assert.equal(c.timeoutSeconds, 2.5);
    assert.equal(c.concurrency, 1);
    assert.equal(c.handler, 'handle');
    assert.equal(c.maxConnections, 7);
    assert.equal(c.codePath, api.DEFAULT_CODE_PATH);
  });

  it('refuses what it cannot serve with', () => {
    assert.throws(() => config.fromEnv({ FAAS_CONCURRENCY: 'ten' }), /FAAS_CONCURRENCY/);
    assert.throws(() => config.fromEnv({ FAAS_PORT: '80.5' }), /FAAS_PORT/);
    assert.throws(() => config.validate(config.fromEnv({ FAAS_MODE: 'other' })), /FAAS_MODE/);
    assert.throws(() => config.validate(config.fromEnv({ FAAS_TIMEOUT_SECONDS: '0' })), /timeoutSeconds/);
  });
});
