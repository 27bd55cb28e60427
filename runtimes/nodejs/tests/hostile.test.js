'use strict';
// Hostile clients against a real runner process, over raw sockets; mirrors
// runtimes/python/tests/test_hostile.py. Each test checks what the hostile
// client gets (refused, closed, never a desynchronized or injected answer)
// and that a normal caller is served right afterwards, on a fresh
// connection and, where the connection may stay open, with the next
// request on the same connection, the way the gateway reuses connections.

const assert = require('node:assert/strict');
const net = require('node:net');
const { describe, it, before, after } = require('node:test');
const { RawClient, RunnerProcess, requestBytes } = require('./support');

// An answer larger than what the kernel buffers on loopback.
const BIG = 64 * 1024 * 1024;

const CODE = `
module.exports = async (req) => {
  if (req.path === '/big') return Buffer.alloc(${BIG}, 97);
  if (req.path === '/set-header') return { status: 200, headers: { [req.query.name]: req.query.value }, body: 'set' };
  if (req.path === '/empty') return { status: 204, body: 'POISON' };
  if (req.path === '/not-modified') return { status: 304, headers: { ETag: 'e' }, body: 'POISON' };
  if (req.path === '/interim') return { status: 101, headers: { Upgrade: 'websocket', Connection: 'Upgrade' }, body: '' };
  return { path: req.path, method: req.method, body: req.text };
};
`;

// Short deadlines and limits.
const ENV = {
  FAAS_HTTP_HEADER_TIMEOUT_SECONDS: '0.5',
  FAAS_HTTP_BODY_TIMEOUT_SECONDS: '0.5',
  FAAS_HTTP_IDLE_TIMEOUT_SECONDS: '1',
  FAAS_HTTP_LINGER_SECONDS: '0.5',
  FAAS_HTTP_SEND_TIMEOUT_SECONDS: '0.5',
  FAAS_HTTP_MAX_REQUEST_LINE_BYTES: '1024',
  FAAS_HTTP_MAX_HEADER_BYTES: '4096',
};
// How long a test waits for what the deadlines above should cause.
const PATIENCE = 3000;

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n';

function suite(name, env, body) {
  describe(name, () => {
    const h = { clients: [] };
    before(async () => { h.proc = await (await RunnerProcess.start(CODE, env)).waitServing(); });
    after(async () => {
      for (const c of h.clients) c.close();
      await h.proc.stop();
    });
    h.client = async (port) => {
      const c = await RawClient.connect(port || h.proc.port, PATIENCE);
      h.clients.push(c);
      return c;
    };
    h.assertAnswer = (resp, path, method = 'GET') => {
      assert.equal(resp.status, 200, String(resp));
      const got = JSON.parse(resp.body.toString());
      assert.deepEqual([got.path, got.method], [path, method], String(resp));
      return got;
    };
    h.assertNormalCallerServed = async (same) => {
      for (const c of [...(same ? [same] : []), await h.client()]) {
        await c.send(requestBytes('GET', '/normal'));
        h.assertAnswer(await c.readResponse(), '/normal');
        await c.send(requestBytes('GET', '/normal-again'));
        h.assertAnswer(await c.readResponse(), '/normal-again');
      }
    };
    h.assertRefused = async (data, status = 400, what = '') => {
      const c = await h.client();
      await c.send(data);
      const resp = await c.readResponse();
      assert.equal(resp.status, status, `${what}: ${resp}`);
      assert.equal(resp.header('connection'), 'close', `${what}: ${resp}`);
      assert.ok(await c.closedByPeer(PATIENCE), `${what}: the connection stayed open`);
      await h.assertNormalCallerServed();
    };
    body(h);
  });
}

suite('smuggling', ENV, (h) => {
  it('refuses Content-Length with Transfer-Encoding', async () => {
    const body = `0\r\n\r\n${SMUGGLED}`;
    for (const fields of [[['Content-Length', String(body.length)], ['Transfer-Encoding', 'chunked']],
      [['Transfer-Encoding', 'chunked'], ['Content-Length', String(body.length)]],
      [['Content-Length', '5'], ['Transfer-Encoding', 'chunked']],
      [['Transfer-Encoding', 'chunked'], ['Content-Length', '0']]]) {
      await h.assertRefused(requestBytes('POST', '/normal', fields, body), 400, JSON.stringify(fields));
    }
  });

  it('refuses a repeated or conflicting Content-Length', async () => {
    for (const values of [['5', '5'], ['5', String(5 + SMUGGLED.length)], [String(5 + SMUGGLED.length), '5']]) {
      const fields = values.map((v) => ['Content-Length', v]);
      await h.assertRefused(requestBytes('POST', '/normal', fields, `hello${SMUGGLED}`), 400, values.join());
    }
  });

  it('refuses an invalid Content-Length', async () => {
    for (const value of ['+5', '-1', '1_0', '0x5', '5, 5', '5 5', '\xd9\xa5', '99999999999999999999']) {
      await h.assertRefused(Buffer.from(`POST /normal HTTP/1.1\r\nHost: t\r\nContent-Length: ${value}\r\n\r\nhello${SMUGGLED}`, 'latin1'),
        400, JSON.stringify(value));
    }
  });

  it('refuses bad chunk sizes', async () => {
    const head = requestBytes('POST', '/normal', [['Transfer-Encoding', 'chunked']]);
    for (const chunks of ['-5\r\nhello\r\n0\r\n\r\n', 'zz\r\nhello\r\n0\r\n\r\n', '0x5\r\nhello\r\n0\r\n\r\n',
      `${'1'.repeat(40)}\r\nhello\r\n0\r\n\r\n`, '5 5\r\nhello\r\n0\r\n\r\n', 'ffffffffffffffff0\r\nhello\r\n0\r\n\r\n']) {
      await h.assertRefused(Buffer.concat([head, Buffer.from(chunks + SMUGGLED)]), 400, JSON.stringify(chunks));
    }
  });

  it('refuses chunk data or a last chunk without its CRLF', async () => {
    const head = requestBytes('POST', '/normal', [['Transfer-Encoding', 'chunked']]);
    for (const chunks of ['5\r\nhelloXX0\r\n\r\n', '5\r\nhello0\r\n\r\n', `5\r\nhello\r\n0\r\n${SMUGGLED}`,
      `5\r\nhello\r\n0\r\n${SMUGGLED.slice(0, -2)}`]) {
      await h.assertRefused(Buffer.concat([head, Buffer.from(chunks + SMUGGLED)]), 400, JSON.stringify(chunks));
    }
  });

  it('refuses transfer codings other than chunked', async () => {
    for (const [value, status] of [['gzip', 400], ['chunked, identity', 400], ['identity', 400], ['chunked ,gzip', 400],
      // llhttp itself refuses a repeated chunked (400; the Python runner: 501).
      ['gzip, chunked', 501], ['chunked, chunked', 400], ['chunkedx', 400]]) {
      await h.assertRefused(requestBytes('POST', '/normal', [['Transfer-Encoding', value]], `0\r\n\r\n${SMUGGLED}`), status, value);
    }
  });

  it('refuses a missing or repeated Host in HTTP/1.1', async () => {
    await h.assertRefused(Buffer.from('GET /normal HTTP/1.1\r\n\r\n'), 400, 'missing');
    await h.assertRefused(Buffer.from('GET /normal HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'), 400, 'repeated');
  });

  it('refuses Transfer-Encoding in HTTP/1.0', async () => {
    await h.assertRefused(Buffer.from(`POST /normal HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`));
  });

  it('refuses obsolete line folding, bare LF and bad field lines', async () => {
    for (const data of ['GET /normal HTTP/1.1\r\nHost: t\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n\r\n',
      'GET /normal HTTP/1.1\r\nHost: t\r\n\tX-A: a\r\n\r\n',
      'GET /normal HTTP/1.1\nHost: t\n\n',
      'GET /normal HTTP/1.1\r\nHost: t\nContent-Length: 5\r\n\r\nhello',
      'GET /normal HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello',
      'GET /normal HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n',
      'GET /normal HTTP/1.1\r\nHost: t\r\nX-A: a\rContent-Length: 5\r\n\r\nhello']) {
      await h.assertRefused(Buffer.from(data, 'latin1'), 400, JSON.stringify(data));
    }
  });

  it('reads a body that is a request, to any path, as the body', async () => {
    // The desync of the security issue: POST /_/ready with a request as its
    // body. On the call port every path is the function's, and the whole
    // body is read before the next request.
    for (const path of ['/_/ready', '/_/health', '/_/stats', '/_/specialize', '/_/nothing', '/']) {
      for (const chunked of [false, true]) {
        const c = await h.client();
        if (chunked) {
          await c.send(requestBytes('POST', path, [['Transfer-Encoding', 'chunked']],
            `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`));
        } else {
          await c.send(requestBytes('POST', path, [], SMUGGLED));
        }
        const got = h.assertAnswer(await c.readResponse(), path, 'POST');
        assert.equal(got.body, SMUGGLED);
        await h.assertNormalCallerServed(c);
      }
    }
  });
});

suite('admin port', ENV, (h) => {
  it('reads every body', async () => {
    for (const path of ['/_/ready', '/_/health', '/_/stats', '/_/nothing']) {
      const c = await h.client(h.proc.adminPort);
      await c.send(requestBytes('POST', path, [], 'GET /_/health HTTP/1.1\r\nHost: t\r\n\r\n'));
      const first = await c.readResponse();
      assert.ok([200, 404].includes(first.status), String(first));
      await c.send(requestBytes('GET', '/_/ready'));
      assert.equal((await c.readResponse()).body.toString(), 'ready');
      await h.assertNormalCallerServed();
    }
  });
});

suite('answers', ENV, (h) => {
  it('a handler header cannot split the response', async () => {
    for (const value of ['a%0D%0ASet-Cookie:%20pwned=1', 'a%0ASet-Cookie:%20pwned=1', 'a%0DSet-Cookie:%20pwned=1',
      'a%00b', '%E2%98%83', 'a%0D%0A%0D%0AHTTP/1.1%20200%20OK']) {
      for (const name of ['X-A', 'X%20A', 'X-A%0D%0ASet-Cookie']) {
        const c = await h.client();
        await c.send(requestBytes('GET', `/set-header?name=${name}&value=${value}`));
        const resp = await c.readResponse();
        assert.equal(resp.status, 500, `${name} ${value}: ${resp}`);
        const got = JSON.parse(resp.body.toString());
        assert.equal(got.status, 500);
        assert.match(got.error, /invalid answer/);
        assert.equal(resp.header('set-cookie'), null);
        await h.assertNormalCallerServed(c);
      }
    }
  });

  it('sends no body for 204 and 304', async () => {
    for (const [path, status] of [['/empty', 204], ['/not-modified', 304]]) {
      const c = await h.client();
      await c.send(requestBytes('GET', path));
      const resp = await c.readResponse();
      assert.equal(resp.status, status);
      if (status === 204) assert.equal(resp.header('content-length'), null);
      await h.assertNormalCallerServed(c);
    }
  });

  it('sends no body for HEAD', async () => {
    const c = await h.client();
    await c.send(requestBytes('HEAD', '/normal'));
    const resp = await c.readResponse({ head: true });
    assert.equal(resp.status, 200);
    await h.assertNormalCallerServed(c);
  });

  it('a handler cannot send an interim status', async () => {
    const c = await h.client();
    await c.send(requestBytes('GET', '/interim'));
    const resp = await c.readResponse();
    assert.equal(resp.status, 500, String(resp));
    assert.match(JSON.parse(resp.body.toString()).error, /interim/);
    await h.assertNormalCallerServed(c);
  });
});

suite('slow clients', ENV, (h) => {
  // dribble sends data a byte every 50 ms until the runner closes or
  // answers; resolves the ms that took, or null if it never did.
  async function dribble(c, data) {
    const start = Date.now();
    for (let i = 0; i < data.length; i += 1) {
      await new Promise((r) => { setTimeout(r, 50); });
      if (c.buf.length || c.eof) return Date.now() - start;
      if (!(await c.send(data.subarray(i, i + 1)))) return Date.now() - start;
      if (i === 3) await h.assertNormalCallerServed(); // others are served meanwhile
    }
    return null;
  }

  it('closes a slowloris head', async () => {
    const c = await h.client();
    const took = await dribble(c, Buffer.from(`GET /normal HTTP/1.1\r\nHost: t\r\nX-Slow: ${'a'.repeat(200)}`));
    assert.notEqual(took, null, 'the runner waited for the head forever');
    assert.ok(took >= 400, `closed after ${took} ms, before the deadline`);
    assert.ok(await c.closedByPeer(PATIENCE) || c.buf.toString().startsWith('HTTP/1.1 408'));
    await h.assertNormalCallerServed();
  });

  it('answers a slow body 408', async () => {
    const c = await h.client();
    await c.send(requestBytes('POST', '/normal', [['Content-Length', '200']]));
    const took = await dribble(c, Buffer.from('a'.repeat(200)));
    assert.notEqual(took, null, 'the runner waited for the body forever');
    const resp = await c.readResponse();
    assert.equal(resp.status, 408);
    assert.ok(await c.closedByPeer(PATIENCE));
    await h.assertNormalCallerServed();
  });

  it('closes an idle keep-alive connection', async () => {
    const c = await h.client();
    await c.send(requestBytes('GET', '/normal'));
    h.assertAnswer(await c.readResponse(), '/normal');
    assert.ok(await c.closedByPeer(PATIENCE), 'the idle connection stayed open');
    await h.assertNormalCallerServed();
  });

  it('drops a peer that reads nothing of its answer', async () => {
    const c = await h.client();
    await c.send(requestBytes('GET', '/big'));
    c.sock.pause(); // read nothing
    await new Promise((r) => { setTimeout(r, 2000); });
    c.sock.resume();
    for (;;) {
      try { await c._fill(PATIENCE); } catch { break; } // eslint-disable-line no-underscore-dangle
    }
    assert.ok(c.eof, 'the connection stayed open');
    assert.ok(c.buf.length < BIG, `all ${c.buf.length} bytes arrived: the peer was not dropped`);
    await h.assertNormalCallerServed();
  });

  it('closes a silent connection', async () => {
    const c = await h.client();
    assert.ok(await c.closedByPeer(PATIENCE), 'a connection that never sent a byte stayed open');
    await h.assertNormalCallerServed();
  });
});

suite('oversize', ENV, (h) => {
  it('refuses an oversized request line', async () => {
    await h.assertRefused(requestBytes('GET', `/${'a'.repeat(2000)}`), 414, 'whole line');
    await h.assertRefused(Buffer.from(`GET /${'a'.repeat(2000)}`), 414, 'before the line even ends');
  });

  it('refuses an oversized header section', async () => {
    await h.assertRefused(requestBytes('GET', '/normal', [['X-Big', 'a'.repeat(5000)]]), 431, 'one big field');
    await h.assertRefused(requestBytes('GET', '/normal', Array.from({ length: 120 }, (_, i) => [`X-${i}`, 'a'.repeat(40)])), 431, 'big fields');
    await h.assertRefused(requestBytes('GET', '/normal', Array.from({ length: 150 }, (_, i) => [`X-${i}`, 'a'])), 431, 'many fields');
  });
});

suite('too many connections', {
  ...ENV, FAAS_HTTP_MAX_CONNECTIONS: '4', FAAS_HTTP_HEADER_TIMEOUT_SECONDS: '30', FAAS_HTTP_IDLE_TIMEOUT_SECONDS: '30',
}, (h) => {
  it('idle and half-open connections give way', async () => {
    const HOSTILE = 12;
    const hostile = [];
    for (let i = 0; i < HOSTILE; i += 1) {
      const c = await h.client();
      if (i % 2) await c.send('GET /normal HTTP/1.1\r\nHost: t\r\n'); // a head that never ends
      hostile.push(c);
    }
    await h.assertNormalCallerServed();
    // All but the newest few hostile connections were closed to make room,
    // without waiting for any deadline.
    const closed = await Promise.all(hostile.map((c) => c.closedByPeer(PATIENCE)));
    assert.ok(closed.filter(Boolean).length >= HOSTILE + 1 - 4, `closed ${closed.filter(Boolean).length}`);
    await new Promise((resolve, reject) => {
      const s = net.connect(h.proc.port, '127.0.0.1', () => { s.destroy(); resolve(); });
      s.on('error', reject);
    });
    await h.assertNormalCallerServed();
  });
});
