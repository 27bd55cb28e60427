'use strict';
// A real runner process: start, load failure, timeout, drain, pool mode and
// the token hash kept from function code.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { describe, it } = require('node:test');
const { RawClient, RunnerProcess, requestBytes } = require('./support');

const TOKEN = 'pool-token';
const TOKEN_HASH = crypto.createHash('sha256').update(TOKEN).digest('hex');
const AUTH = { Authorization: `Bearer ${TOKEN}` };

// Function code that reports whether it can see the token hash.
const SNOOP = `
const fs = require('node:fs');
module.exports = () => ({
  env: Object.keys(process.env).filter((k) => k.startsWith('FAAS_SPECIALIZE')),
  environ: fs.readFileSync('/proc/self/environ', 'latin1').includes(${JSON.stringify(TOKEN_HASH)}),
  pid: process.pid,
  ppid: process.ppid,
  greeting: process.env.GREETING || null,
});
`;

async function withRunner(code, env, opts, fn) {
  const p = await RunnerProcess.start(code, env, opts);
  try { return await fn(p); } finally { await p.stop(); }
}

describe('deployment mode', () => {
  it('serves the function; /_/ready is the function\'s on the call port', async () => {
    await withRunner("module.exports = (req) => ({ path: req.path, ct: req.headers.get('content-type'), body: req.json() })", {}, {}, async (p) => {
      await p.waitServing();
      const r = await p.request('POST', '/_/ready?x=1', { body: '{"a":1}', headers: { 'Content-Type': 'application/json' } });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { path: '/_/ready', ct: 'application/json', body: { a: 1 } });
      assert.equal((await p.request('GET', '/_/ready', { admin: true })).body.toString(), 'ready');
      assert.equal((await p.request('GET', '/_/health', { admin: true })).body.toString(), 'ok');
      assert.equal((await p.request('GET', '/other', { admin: true })).status, 404);
      assert.equal((await p.request('GET', '/_/specialize', { admin: true })).status, 405);
      assert.equal((await p.request('POST', '/_/specialize', { admin: true, body: '{}' })).status, 404);
      const stats = JSON.parse((await p.request('GET', '/_/stats', { admin: true })).body);
      assert.equal(stats.calls, 1);
      assert.equal(stats.inFlight, 0);
    });
  });

  it('answers a call past its timeout 504 and keeps serving', async () => {
    const code = "module.exports = async (req) => { if (req.path === '/slow') await new Promise((r) => setTimeout(r, 5000)); return 'ok'; }";
    await withRunner(code, { FAAS_TIMEOUT_SECONDS: '0.3' }, {}, async (p) => {
      await p.waitServing();
      const slow = await p.request('GET', '/slow');
      assert.equal(slow.status, 504);
      assert.equal(JSON.parse(slow.body).status, 504);
      assert.equal((await p.request('GET', '/')).body.toString(), 'ok');
    });
  });

  it('answers a half-closed peer, and pipelined requests in order', async () => {
    const code = "module.exports = async (req) => { await new Promise((r) => setTimeout(r, req.path === '/a' ? 200 : 0)); return req.path; }";
    await withRunner(code, {}, {}, async (p) => {
      await p.waitServing();
      const c = await RawClient.connect(p.port);
      await c.send(requestBytes('GET', '/a'));
      c.sock.end(); // FIN right after the request
      assert.equal((await c.readResponse()).body.toString(), '/a');
      const c2 = await RawClient.connect(p.port);
      await c2.send(Buffer.concat([requestBytes('GET', '/a'), requestBytes('GET', '/b')]));
      assert.equal((await c2.readResponse()).body.toString(), '/a');
      assert.equal((await c2.readResponse()).body.toString(), '/b');
      c2.close();
    });
  });

  it('answers a body over FAAS_MAX_BODY_BYTES 413', async () => {
    await withRunner("module.exports = (req) => req.body.length", { FAAS_MAX_BODY_BYTES: '10' }, {}, async (p) => {
      await p.waitServing();
      assert.equal((await p.request('POST', '/', { body: 'x'.repeat(10) })).body.toString(), '10');
      const c = await RawClient.connect(p.port);
      await c.send(requestBytes('POST', '/', [['Transfer-Encoding', 'chunked']], `b\r\n${'x'.repeat(11)}\r\n0\r\n\r\n`));
      assert.equal((await c.readResponse()).status, 413);
      c.close();
      const r = await p.request('POST', '/', { body: 'x'.repeat(11) });
      assert.equal(r.status, 413);
    });
  });

  for (const [name, code, pattern] of [
    ['a syntax error', 'module.exports = (req) => {\n  return 1\n', /^SyntaxError: .*\(function\.js, line 3\)$/],
    ['an error at load', '\nnull.x', /^function\.js raised TypeError while loading: .*\(function\.js, line 2\)$/],
    ['a missing handler', 'exports.other = () => 1', /^handler "handle" is not exported by function\.js$/],
  ]) {
    it(`exits 3 with the reason in the termination log for ${name}`, async () => {
      await withRunner(code, {}, {}, async (p) => {
        assert.equal(await p.waitExit(), 3);
        assert.match(fs.readFileSync(p.terminationLog, 'utf8'), pattern);
      });
    });
  }

  it('exits 3 for a missing code file, 2 for bad settings', async () => {
    await withRunner(null, { FAAS_CODE_PATH: '/nonexistent/function.js' }, {}, async (p) => {
      assert.equal(await p.waitExit(), 3);
      assert.match(fs.readFileSync(p.terminationLog, 'utf8'), /cannot load \/nonexistent\/function\.js/);
    });
    await withRunner('module.exports = () => 1', { FAAS_MODE: 'other' }, {}, async (p) => {
      assert.equal(await p.waitExit(), 2);
      assert.match(fs.readFileSync(p.terminationLog, 'utf8'), /FAAS_MODE/);
    });
  });

  it('drains on SIGTERM: unready, in-flight calls finish, exit 0', async () => {
    const code = "module.exports = async () => { await new Promise((r) => setTimeout(r, 500)); return 'done'; }";
    await withRunner(code, {}, {}, async (p) => {
      await p.waitServing();
      const c = await RawClient.connect(p.port);
      await c.send(requestBytes('GET', '/'));
      await new Promise((r) => { setTimeout(r, 100); });
      p.proc.kill('SIGTERM');
      await p.waitLog('Draining');
      const resp = await c.readResponse();
      assert.equal(resp.status, 200);
      assert.equal(resp.body.toString(), 'done');
      assert.equal(resp.header('connection'), 'close');
      assert.equal(await p.waitExit(), 0);
      assert.match(p.log, /in-flight calls finished: true/);
    });
  });
});

describe('pool mode', () => {
  const POOL = { FAAS_MODE: 'pool', FAAS_SPECIALIZE_TOKEN_SHA256: TOKEN_HASH };
  const spec = (code, extra = {}) => JSON.stringify({ function: 'ns/f', handler: 'handle', code, env: { GREETING: 'hi' }, timeoutSeconds: 5, concurrency: 2, ...extra });

  for (const entrypoint of [true, false]) {
    it(`keeps the token hash from function code (${entrypoint ? 'entrypoint.sh' : 'node main.js'})`, async () => {
      await withRunner(null, POOL, { entrypoint }, async (p) => {
        await p.waitServing();
        assert.equal((await p.request('GET', '/_/ready', { admin: true })).status, 200);
        assert.equal((await p.request('GET', '/')).status, 503);
        assert.equal((await p.request('POST', '/_/specialize', { admin: true, body: spec(SNOOP), headers: { Authorization: 'Bearer nope' } })).status, 403);
        const r = await p.request('POST', '/_/specialize', { admin: true, body: spec(SNOOP), headers: AUTH });
        assert.equal(r.status, 200, r.body.toString());
        const seen = JSON.parse((await p.request('GET', '/')).body);
        assert.deepEqual(seen.env, []);
        assert.equal(seen.environ, false, 'the hash is in /proc/self/environ');
        assert.equal(seen.greeting, 'hi');
        if (entrypoint) {
          assert.equal(seen.pid, p.proc.pid, 'the entrypoint execs node: one process');
        } else {
          // The fallback re-spawns: the supervising parent still holds the
          // hash in its /proc/<pid>/environ (see environ.js, README.md).
          assert.equal(seen.ppid, p.proc.pid);
        }
        const stats = JSON.parse((await p.request('GET', '/_/stats', { admin: true })).body);
        assert.ok(stats.specializeMicros >= 1);
      });
    });
  }

  it('concurrent specializations have one winner; the rest are 409 with its hash', async () => {
    await withRunner(null, POOL, {}, async (p) => {
      await p.waitServing();
      const bodies = [0, 1, 2, 3, 4].map((i) => spec(`module.exports = () => 'winner ${i}'`));
      const answers = await Promise.all(bodies.map((body) => p.request('POST', '/_/specialize', { admin: true, body, headers: AUTH })));
      const won = answers.map((r, i) => [r.status, i]).filter(([s]) => s === 200);
      assert.equal(won.length, 1, answers.map((r) => r.status).join());
      const winner = won[0][1];
      const hash = crypto.createHash('sha256').update(bodies[winner]).digest('hex');
      for (const [i, r] of answers.entries()) {
        if (i !== winner) {
          assert.equal(r.status, 409);
          assert.equal(JSON.parse(r.body).specHash, hash);
        }
      }
      assert.equal((await p.request('GET', '/')).body.toString(), `winner ${winner}`);
    });
  });

  it('answers 422 for code that does not load, then exits 3', async () => {
    await withRunner(null, POOL, {}, async (p) => {
      await p.waitServing();
      const r = await p.request('POST', '/_/specialize', { admin: true, body: spec('module.exports = (\n'), headers: AUTH });
      assert.equal(r.status, 422);
      assert.match(JSON.parse(r.body).error, /^SyntaxError: .*\(function\.js, line 2\)$/);
      assert.equal(r.headers.connection, 'close');
      assert.equal(await p.waitExit(), 3);
      assert.match(fs.readFileSync(p.terminationLog, 'utf8'), /^SyntaxError/);
    });
  });
});
