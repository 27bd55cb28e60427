'use strict';
// The Node.js samples in config/samples load and answer as their comments
// say. The code is read from the YAML's `code: |` block (no YAML parser:
// no npm dependencies).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it } = require('node:test');
const contract = require('../runner/contract');
const loader = require('../runner/loader');
const { ROOT } = require('./support');

const SAMPLES = path.resolve(ROOT, '..', '..', 'config', 'samples');

function sampleHandler(file) {
  const lines = fs.readFileSync(path.join(SAMPLES, file), 'utf8').split('\n');
  const start = lines.findIndex((l) => /^  code: \|$/.test(l));
  assert.ok(start >= 0, `${file} has no code block`);
  const code = [];
  for (const line of lines.slice(start + 1)) {
    if (line !== '' && !line.startsWith('    ')) break;
    code.push(line.slice(4));
  }
  return loader.loadHandler(code.join('\n'), 'handle', path.join('/tmp', 'function.js'));
}

async function answer(handler, { query = '', body = '', headers = [] } = {}) {
  const req = new contract.Request('POST', '/', query, new contract.Headers(headers), Buffer.from(body));
  return contract.toResponse(await handler(req));
}

describe('nodejs samples', () => {
  it('hello', async () => {
    const resp = await answer(sampleHandler('function-hello-nodejs.yaml'));
    assert.equal(resp.body.toString(), 'hello from node');
  });

  it('JSON echo', async () => {
    const resp = await answer(sampleHandler('function-echo-nodejs.yaml'),
      { query: 'x=1', body: '{"name": "edge"}', headers: ['Content-Type', 'application/json'] });
    assert.deepEqual(JSON.parse(resp.body), { echo: { name: 'edge' }, method: 'POST', path: '/', query: { x: '1' }, contentType: 'application/json' });
    await assert.rejects(answer(sampleHandler('function-echo-nodejs.yaml'), { body: '{' }), contract.BadRequest);
  });

  it('async fetch-style', async () => {
    const h = sampleHandler('function-fetch-nodejs.yaml');
    const ok = await answer(h, { query: 'city=Oslo' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['Cache-Control'], 'max-age=60');
    assert.deepEqual(JSON.parse(ok.body), { city: 'Oslo', tempC: 21 });
    assert.equal((await answer(h)).status, 400);
  });
});
