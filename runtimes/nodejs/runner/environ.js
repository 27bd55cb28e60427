'use strict';
// Takes the specialization token's hash out of the process environment
// before any function code runs.
//
// `delete process.env.X` changes Node's copy only: /proc/self/environ shows
// the block the process was exec'd with, and function code can read it.
// Node (before 22.15) has no execve, so the image's entrypoint
// (entrypoint.sh) does the exec: it unsets the variable and execs node with
// the hash on an inherited pipe, fd FAAS_SPECIALIZE_TOKEN_FD; not in argv,
// which /proc/self/cmdline shows just as well. This process reads and
// closes the pipe at once.
//
// Started without the entrypoint (node runner/main.js) with the hash in
// its environment, the runner re-spawns itself as a child with an
// environment without it and the hash on fd 3, and only supervises it
// (signals forwarded, exit code passed on). The child's /proc/self/environ
// is clean, but the supervising parent's /proc/<ppid>/environ still holds
// the hash and the same user can read it: the image must use the
// entrypoint.

const childProcess = require('node:child_process');
const fs = require('node:fs');
const api = require('./runnerapi');

// Names the fd the hash is read from.
const ENV_TOKEN_FD = 'FAAS_SPECIALIZE_TOKEN_FD';

// takeTokenHash returns {hash} (possibly ''), or {child} when it re-spawned
// the runner and this process is now only its supervisor.
function takeTokenHash(env = process.env, { spawn = respawn } = {}) {
  const fd = env[ENV_TOKEN_FD];
  if (fd !== undefined) {
    delete env[ENV_TOKEN_FD];
    delete env[api.ENV_SPECIALIZE_TOKEN_SHA256];
    return { hash: readAndClose(Number(fd)) };
  }
  const value = env[api.ENV_SPECIALIZE_TOKEN_SHA256];
  delete env[api.ENV_SPECIALIZE_TOKEN_SHA256];
  if (!value) return { hash: '' };
  return { child: spawn(env, value) };
}

// readAndClose reads fd to its end; '' when it is not a readable fd.
function readAndClose(fd) {
  if (!Number.isInteger(fd) || fd < 3) return '';
  const chunks = [];
  const buf = Buffer.alloc(256);
  const deadline = Date.now() + 5000;
  try {
    for (;;) {
      let n;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        // A non-blocking pipe whose writer has not written yet.
        if (err.code !== 'EAGAIN' || Date.now() > deadline) throw err;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
  } catch {
    return '';
  } finally {
    try { fs.closeSync(fd); } catch { /* already closed */ }
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}

function respawn(env, value) {
  const child = childProcess.spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env: { ...env, [ENV_TOKEN_FD]: '3' },
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
  });
  child.stdio[3].end(value);
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code === null ? 128 + (signal === 'SIGKILL' ? 9 : 15) : code));
  return child;
}

module.exports = { ENV_TOKEN_FD, takeTokenHash, readAndClose };
