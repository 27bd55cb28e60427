'use strict';
// Entry point: take the token hash out of the environment, load the code,
// serve both ports, drain on SIGTERM.
//
// Exit codes: 0 after a drain, 3 (LOAD_FAILED_EXIT_CODE) when the
// function's code did not load, at start or in a pool pod's
// specialization, or when it is given a function package (python only),
// 2 for settings the runner cannot start with. Every
// non-zero exit writes its reason to the termination log first.

const fs = require('node:fs');
const environ = require('./environ');

// First of all: this may hand the process over to a child (see environ.js).
const taken = environ.takeTokenHash(process.env);

const api = require('./runnerapi');
const config = require('./config');
const loader = require('./loader');
const { Runner, writeTerminationMessage } = require('./app');

function stamp(level, args) {
  process.stderr.write(`${new Date().toISOString()} ${level} runner: ${args.join(' ')}\n`);
}

const log = {
  info: (...a) => stamp('INFO', a),
  warn: (...a) => stamp('WARNING', a),
  error: (...a) => stamp('ERROR', a),
};

async function main() {
  if (Number(process.versions.node.split('.')[0]) < 20) {
    log.warn(`Node ${process.versions.node}: its HTTP parser accepts chunk data not followed by CRLF; use Node >= 20`);
  }
  const env = { ...process.env };
  if (taken.hash) env[api.ENV_SPECIALIZE_TOKEN_SHA256] = taken.hash;
  let cfg;
  try {
    cfg = config.validate(config.fromEnv(env));
  } catch (err) {
    log.error(`Cannot start: ${err.message}`);
    writeTerminationMessage(env[api.ENV_TERMINATION_LOG] || api.DEFAULT_TERMINATION_LOG,
      `runner settings: ${err.message}`, log);
    return 2;
  }
  let handler = null;
  if (cfg.mode !== api.MODE_POOL) {
    try {
      if (cfg.packageURL) {
        // Python only: no fetch is tried, so this is a load failure (the
        // operator's LoadFailed), never a fetch failure.
        throw new loader.LoadError(loader.PACKAGES_UNSUPPORTED,
          `${api.ENV_PACKAGE_URL} is set (package ${cfg.packageDigest || cfg.packageURL}); this runner loads ${api.ENV_CODE_PATH} only`);
      }
      const source = fs.readFileSync(cfg.codePath, 'utf8');
      handler = loader.loadHandler(source, cfg.handler, cfg.codePath);
    } catch (err) {
      const reason = err instanceof loader.LoadError ? err.message : `cannot load ${cfg.codePath}: ${err.message}`;
      log.error(`Function code failed to load: ${reason}\n${err.detail || ''}`);
      writeTerminationMessage(cfg.terminationLog, reason, log);
      return api.LOAD_FAILED_EXIT_CODE;
    }
  }
  const runner = new Runner(cfg, handler, log);
  try {
    await runner.start();
  } catch (err) {
    log.error(`Cannot start: ${err.message}`);
    writeTerminationMessage(cfg.terminationLog, `runner cannot listen: ${err.message}`, log);
    return 2;
  }
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => runner.stop(0));
  if (handler === null) {
    log.info(`Pool runner waiting for a specialization on port ${runner.adminPort} (calls on port ${runner.callPort})`);
  } else {
    log.info(`Serving function ${cfg.functionName} handler ${cfg.handler} on port ${runner.callPort} (admin port ${runner.adminPort})`);
  }
  const code = await runner.wait();
  log.info(`Stopped serving function ${runner.calls.functionName} (in-flight calls finished: ${runner.drained})`);
  return code;
}

if (!taken.child) {
  // A function's unhandled rejection or error outside a call is logged,
  // never fatal: other calls keep being served.
  process.on('unhandledRejection', (reason) => log.error(`unhandled rejection: ${reason && reason.stack || reason}`));
  process.on('uncaughtException', (err) => log.error(`uncaught exception: ${err && err.stack || err}`));
  main().then((code) => { process.exitCode = code; process.exit(code); });
}
