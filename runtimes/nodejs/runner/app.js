'use strict';
// One runner process: the function's calls on the call port, the runner's
// own endpoints on the admin port, readiness, drain and exit.
//
// Stopping (SIGTERM, or a pool pod whose code failed to load) drains: the
// runner turns unready, stops accepting calls, closes idle connections,
// lets calls in flight finish (up to their timeout plus a grace period),
// then closes the admin port and reports the exit code.

const fs = require('node:fs');
const api = require('./runnerapi');
const contract = require('./contract');
const { Admin } = require('./admin');
const { Calls } = require('./calls');
const { Listener } = require('./server');
const { Specializer } = require('./specialize');

class Runner {
  constructor(config, handler, log = console) {
    this.config = config;
    this.log = log;
    this.calls = new Calls({
      functionName: config.functionName, handler, timeoutSeconds: config.timeoutSeconds,
      concurrency: config.concurrency, log,
    });
    this.specializer = config.mode === api.MODE_POOL ? new Specializer(config.specializeTokenSHA256) : null;
    const callApp = {
      handle: (req, body, reply) => {
        const [p, q] = contract.splitTarget(req.url);
        this.calls.handle(new contract.Request(req.method, p, q, new contract.Headers(req.rawHeaders), body), reply);
      },
    };
    this.callListener = new Listener({ app: callApp, config, maxConnections: config.maxConnections, name: 'calls', log });
    this.adminListener = new Listener({
      app: new Admin(this), config, maxConnections: config.adminMaxConnections, name: 'admin', log,
    });
    this.draining = false;
    this.exitCode = null; // set by stop()
    this.drained = null; // whether calls in flight finished before the drain timeout
    this._stopped = new Promise((resolve) => { this._resolveStopped = resolve; });
  }

  async start() {
    await this.callListener.start(this.config.host, this.config.port);
    await this.adminListener.start(this.config.host, this.config.adminPort);
  }

  get callPort() { return this.callListener.port; }

  get adminPort() { return this.adminListener.port; }

  // ready: serving a function, or a pool pod waiting to be specialized.
  get ready() {
    if (this.draining) return false;
    return this.calls.handler !== null || (this.specializer !== null && this.specializer.idle);
  }

  stats() {
    const s = this.calls.stats();
    const out = { [api.STATS_CALLS]: s.calls, [api.STATS_IN_FLIGHT]: s.inFlight, [api.STATS_IDLE_SECONDS]: s.idleSeconds };
    if (this.specializer !== null && this.specializer.micros !== null) {
      out[api.STATS_SPECIALIZE_MICROS] = this.specializer.micros;
    }
    return out;
  }

  // stop starts draining; the first caller's exit code wins.
  stop(exitCode = 0) {
    if (this.exitCode !== null) return;
    this.exitCode = exitCode;
    this.draining = true;
    this.callListener.drain();
    this.log.info(`Draining: ${this.calls.inFlight} calls in flight`);
    this._drain();
  }

  // wait resolves to the exit code, once stopped.
  wait() { return this._stopped; }

  async _drain() {
    const c = this.config;
    this.drained = await this.callListener.waitEmpty(this.calls.timeoutSeconds + c.drainGraceSeconds);
    this.adminListener.drain();
    await this.adminListener.waitEmpty(c.lingerSeconds + 1);
    this.callListener.close();
    this.adminListener.close();
    this._resolveStopped(this.exitCode);
  }

  writeTerminationMessage(message) {
    writeTerminationMessage(this.config.terminationLog, message, this.log);
  }
}

// writeTerminationMessage: the kubelet copies this file into the
// container's status, where the operator reads it into the Function's Ready
// condition.
function writeTerminationMessage(file, message, log = console) {
  try {
    fs.writeFileSync(file, String(message).slice(0, 4000));
  } catch (err) {
    log.warn(`Cannot write the termination message to ${file}: ${err.message}`);
  }
}

module.exports = { Runner, writeTerminationMessage };
