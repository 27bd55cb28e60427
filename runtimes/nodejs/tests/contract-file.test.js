'use strict';
// The runner against runtimes/contract/runner.json, which Go generates from
// internal/runnerapi: every name and value the platform relies on must be
// the one the runner uses (mirrors runtimes/python/tests/test_contract_file.py).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { describe, it, before, after } = require('node:test');
const api = require('../runner/runnerapi');
const config = require('../runner/config');
const contract = require('../runner/contract');
const environ = require('../runner/environ');
const { Calls } = require('../runner/calls');
const { PACKAGES_UNSUPPORTED } = require('../runner/loader');
const { parse } = require('../runner/specialize');
const { CONTRACT_FILE, RunnerProcess } = require('./support');

const CONTRACT = JSON.parse(fs.readFileSync(CONTRACT_FILE, 'utf8'));

// The file's env keys, as config keys and as runnerapi constants.
const ENV_CONSTANTS = {
  adminPort: api.ENV_ADMIN_PORT, codePath: api.ENV_CODE_PATH, concurrency: api.ENV_CONCURRENCY,
  functionName: api.ENV_FUNCTION_NAME, handler: api.ENV_HANDLER, maxBodyBytes: api.ENV_MAX_BODY_BYTES,
  mode: api.ENV_MODE, port: api.ENV_PORT, specializeTokenSHA256: api.ENV_SPECIALIZE_TOKEN_SHA256,
  terminationLog: api.ENV_TERMINATION_LOG, timeoutSeconds: api.ENV_TIMEOUT_SECONDS,
  packageURL: api.ENV_PACKAGE_URL, packageTicket: api.ENV_PACKAGE_TICKET, packageDigest: api.ENV_PACKAGE_DIGEST,
  packageModule: api.ENV_PACKAGE_MODULE, packageDir: api.ENV_PACKAGE_DIR,
};

describe('contract file', () => {
  it('ports', () => {
    const { ports } = CONTRACT;
    assert.deepEqual(Object.keys(ports).sort(), ['admin', 'calls']);
    assert.deepEqual([ports.calls.env, ports.calls.default], [api.ENV_PORT, api.CALL_PORT]);
    assert.deepEqual([ports.admin.env, ports.admin.default], [api.ENV_ADMIN_PORT, api.ADMIN_PORT]);
    const d = config.fromEnv({});
    assert.deepEqual([d.port, d.adminPort], [ports.calls.default, ports.admin.default]);
  });

  it('paths', () => {
    assert.deepEqual(CONTRACT.paths, {
      ready: api.READY_PATH, health: api.HEALTH_PATH, stats: api.STATS_PATH, specialize: api.SPECIALIZE_PATH,
    });
  });

  it('env names', () => {
    assert.deepEqual(CONTRACT.env, ENV_CONSTANTS);
    // config reads each platform variable under the contract's name.
    for (const [key, [name]] of Object.entries(config.PLATFORM_ENV)) assert.equal(name, CONTRACT.env[key], key);
    assert.deepEqual(Object.keys(config.PLATFORM_ENV).sort(), Object.keys(CONTRACT.env).sort());
    // The runner's own variables never take a platform name.
    const platform = new Set(Object.values(CONTRACT.env));
    for (const name of Object.values(config.LOCAL_ENV)) assert.ok(!platform.has(name), name);
    assert.ok(!platform.has(environ.ENV_TOKEN_FD));
  });

  it('config reads the contract env names', () => {
    const values = {
      adminPort: '9001', codePath: '/c/f.js', concurrency: '7', functionName: 'fn', handler: 'main',
      maxBodyBytes: '123', mode: 'pool', port: '9000', specializeTokenSHA256: 'ab'.repeat(32),
      terminationLog: '/t/log', timeoutSeconds: '12.5',
      packageURL: 'http://10.0.0.1:8090/p', packageTicket: 't', packageDigest: 'sha256:00',
      packageModule: 'app.main', packageDir: '/p',
    };
    assert.deepEqual(Object.keys(values).sort(), Object.keys(CONTRACT.env).sort());
    const env = {};
    for (const [k, v] of Object.entries(values)) env[CONTRACT.env[k]] = v;
    const c = config.fromEnv(env);
    for (const [k, v] of Object.entries(values)) {
      assert.equal(String(c[k]), v, k);
    }
  });

  it('defaults', () => {
    const d = CONTRACT.defaults;
    const c = config.fromEnv({});
    assert.deepEqual(Object.keys(d).sort(), ['concurrency', 'handler', 'maxBodyBytes', 'mode', 'packageDir',
      'packageModule', 'terminationLog', 'timeoutSeconds']);
    assert.deepEqual([api.DEFAULT_PACKAGE_DIR, api.DEFAULT_PACKAGE_MODULE], [d.packageDir, d.packageModule]);
    for (const [k, v] of Object.entries(d)) assert.equal(c[k], v, k);
    assert.deepEqual(CONTRACT.modes, [...api.MODES]);
    assert.equal(d.mode, api.MODE_DEPLOYMENT);
  });

  it('fetcher', () => {
    assert.deepEqual(CONTRACT.fetcher, {
      path: api.FETCH_PATH, port: api.FETCHER_PORT, mediaType: api.PACKAGE_MEDIA_TYPE,
      codeDir: api.PACKAGE_CODE_DIR, depsDir: api.PACKAGE_DEPS_DIR,
    });
  });

  it('exit codes and authorization scheme', () => {
    assert.equal(CONTRACT.loadFailedExitCode, api.LOAD_FAILED_EXIT_CODE);
    assert.equal(CONTRACT.fetchFailedExitCode, api.FETCH_FAILED_EXIT_CODE);
    assert.notEqual(api.FETCH_FAILED_EXIT_CODE, api.LOAD_FAILED_EXIT_CODE);
    assert.equal(CONTRACT.authorizationScheme, api.AUTHORIZATION_SCHEME);
  });

  it('the token hash is taken from the contract name', () => {
    const name = CONTRACT.env.specializeTokenSHA256;
    const env = { [name]: 'ab'.repeat(32), OTHER: 'x' };
    const spawned = [];
    const got = environ.takeTokenHash(env, { spawn: (e, v) => { spawned.push([{ ...e }, v]); return {}; } });
    assert.ok(got.child);
    assert.equal(spawned[0][1], 'ab'.repeat(32));
    assert.ok(!(name in spawned[0][0]));
    assert.ok(!(name in env));
  });

  it('the error example is what a throwing handler gets', async () => {
    const example = CONTRACT.examples.error;
    const calls = new Calls({ handler: () => { const e = new Error('x'); e.name = 'ZeroDivisionError'; throw e; }, log: { error() {} } });
    const resp = await new Promise((resolve) => calls.handle(new contract.Request('GET', '/', '', [], Buffer.alloc(0)), resolve));
    assert.deepEqual(JSON.parse(resp.body), example);
    assert.deepEqual(JSON.parse(contract.errorResponse(example.status, example.error).body), example);
  });

  it('the specialization example parses', () => {
    const ex = CONTRACT.examples.specialization;
    const spec = parse(Buffer.from(JSON.stringify(ex)));
    assert.deepEqual([spec.function, spec.handler, spec.code, spec.env, spec.timeoutSeconds, spec.concurrency],
      [ex.function, ex.handler, ex.code, ex.env, ex.timeoutSeconds, ex.concurrency]);
    assert.equal(spec.package, null);
  });

  it('the package specialization example parses', () => {
    const ex = CONTRACT.examples.packageSpecialization;
    const spec = parse(Buffer.from(JSON.stringify(ex)));
    const pkg = ex.package;
    assert.deepEqual([spec.function, spec.handler, spec.code, spec.env], [ex.function, ex.handler, '', ex.env]);
    assert.deepEqual(spec.package, { url: pkg.url, ticket: pkg.ticket, digest: pkg.digest, module: pkg.module });
    assert.deepEqual(Object.keys(pkg).sort(), [api.PACKAGE_DIGEST, api.PACKAGE_MODULE, api.PACKAGE_TICKET, api.PACKAGE_URL].sort());
    assert.ok(api.SPEC_PACKAGE in ex);
    assert.ok(pkg.url.startsWith('http://') && pkg.url.includes(`:${CONTRACT.fetcher.port}${CONTRACT.fetcher.path}`));
  });
});

describe('contract messages', () => {
  const TOKEN = 't0ken';
  let proc;
  before(async () => {
    proc = await (await RunnerProcess.start(null, {
      [CONTRACT.env.mode]: 'pool',
      [CONTRACT.env.specializeTokenSHA256]: crypto.createHash('sha256').update(TOKEN).digest('hex'),
    })).waitServing();
  });
  after(() => proc.stop());

  it('a pool runner answers exactly the examples\' fields', async () => {
    const ex = CONTRACT.examples;
    const body = JSON.stringify({ ...ex.specialization, code: "module.exports.handle = () => 'hi'\n" });
    const headers = { Authorization: CONTRACT.authorizationScheme + TOKEN, 'Content-Type': 'application/json' };
    let r = await proc.request('POST', CONTRACT.paths.specialize, { body, headers, admin: true });
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(Object.keys(JSON.parse(r.body)).sort(), Object.keys(ex.specializeResult).sort());
    assert.equal((await proc.request('GET', '/')).body.toString(), 'hi');

    r = await proc.request('POST', CONTRACT.paths.specialize, { body, headers, admin: true });
    const conflict = JSON.parse(r.body);
    assert.equal(r.status, ex.specializeConflict.status);
    assert.deepEqual(Object.keys(conflict).sort(), Object.keys(ex.specializeConflict).sort());
    assert.equal(conflict.error, ex.specializeConflict.error);
    assert.equal(conflict.specHash, crypto.createHash('sha256').update(body).digest('hex'));

    const stats = JSON.parse((await proc.request('GET', CONTRACT.paths.stats, { admin: true })).body);
    // specializedCompiled is omitted when false, and a Node.js pod never
    // loads compiled code; every other field of the example is answered.
    const expected = Object.keys(ex.stats).filter((k) => k !== api.STATS_SPECIALIZED_COMPILED);
    assert.ok(Object.keys(ex.stats).includes(api.STATS_SPECIALIZED_COMPILED), 'the contract names specializedCompiled');
    assert.deepEqual(Object.keys(stats).sort(), expected.sort());
    for (const k of expected) assert.equal(typeof stats[k], typeof ex.stats[k], k);
  });
});

// Function packages are python only: a Node.js runner given one says so as
// a load failure, in deployment mode and in pool mode.
describe('contract packages', () => {
  const TOKEN = 't0ken';

  it('a pool runner refuses the package specialization example 422, then exits load-failed', async () => {
    const proc = await (await RunnerProcess.start(null, {
      [CONTRACT.env.mode]: 'pool',
      [CONTRACT.env.specializeTokenSHA256]: crypto.createHash('sha256').update(TOKEN).digest('hex'),
    })).waitServing();
    try {
      const body = JSON.stringify(CONTRACT.examples.packageSpecialization);
      const headers = { Authorization: CONTRACT.authorizationScheme + TOKEN, 'Content-Type': 'application/json' };
      const r = await proc.request('POST', CONTRACT.paths.specialize, { body, headers, admin: true });
      assert.equal(r.status, 422, r.body.toString());
      assert.deepEqual(JSON.parse(r.body), { error: PACKAGES_UNSUPPORTED, status: 422 });
      assert.equal(PACKAGES_UNSUPPORTED, 'function packages are supported for the python runtime only');
      assert.equal(await proc.waitExit(), CONTRACT.loadFailedExitCode);
      assert.equal(fs.readFileSync(proc.terminationLog, 'utf8'), PACKAGES_UNSUPPORTED);
      assert.ok(!proc.log.includes(CONTRACT.examples.packageSpecialization.package.ticket), 'the ticket is never logged');
    } finally {
      await proc.stop();
    }
  });

  it('a deployment runner with a package URL exits load-failed', async () => {
    const ex = CONTRACT.examples.packageSpecialization.package;
    const proc = await RunnerProcess.start("module.exports = () => 'inline code is not what was asked for'", {
      [CONTRACT.env.packageURL]: ex.url, [CONTRACT.env.packageTicket]: ex.ticket,
      [CONTRACT.env.packageDigest]: ex.digest, [CONTRACT.env.packageModule]: ex.module,
    });
    try {
      assert.equal(await proc.waitExit(), CONTRACT.loadFailedExitCode);
      assert.notEqual(CONTRACT.loadFailedExitCode, CONTRACT.fetchFailedExitCode);
      assert.equal(fs.readFileSync(proc.terminationLog, 'utf8'), PACKAGES_UNSUPPORTED);
      assert.ok(!proc.log.includes(ex.ticket), 'the ticket is never logged');
    } finally {
      await proc.stop();
    }
  });
});
