'use strict';
// The runner's own endpoints, served on the admin port only: readiness,
// liveness, stats and the one specialization of a pool pod. On the call
// port every path, /_/ready included, is the function's.

const path = require('node:path');
const api = require('./runnerapi');
const contract = require('./contract');
const loader = require('./loader');
const { SpecializeError } = require('./specialize');

const TEXT = { 'Content-Type': 'text/plain' };

class Admin {
  constructor(runner) {
    this._runner = runner; // the process: calls, specializer, readiness, exit
  }

  // handle is a Listener app: the body has been read in full already.
  handle(req, body, reply) {
    const [p] = contract.splitTarget(req.url);
    const runner = this._runner;
    if (p === api.READY_PATH) {
      reply(runner.ready ? new contract.Response(200, { ...TEXT }, Buffer.from('ready'))
        : contract.errorResponse(503, 'not ready'));
    } else if (p === api.HEALTH_PATH) {
      reply(new contract.Response(200, { ...TEXT }, Buffer.from('ok')));
    } else if (p === api.STATS_PATH) {
      reply(new contract.Response(200, { 'Content-Type': 'application/json' },
        Buffer.from(JSON.stringify(runner.stats()))));
    } else if (p === api.SPECIALIZE_PATH) {
      if (req.method !== 'POST') {
        const resp = contract.errorResponse(405, 'specialize with POST');
        resp.headers.Allow = 'POST';
        reply(resp);
      } else {
        this._specialize(req, body, reply);
      }
    } else {
      reply(contract.errorResponse(404, `no runner endpoint ${p}`));
    }
  }

  _specialize(req, body, reply) {
    const runner = this._runner;
    const specializer = runner.specializer;
    if (specializer === null) {
      reply(contract.errorResponse(404, 'this pod is not a pool pod'));
      return;
    }
    let spec;
    try {
      spec = specializer.claim(req.headers.authorization, body);
    } catch (err) {
      if (!(err instanceof SpecializeError)) throw err;
      reply(contract.errorResponse(err.status, err.message, err.extra));
      return;
    }
    if (spec.package !== null) {
      // Claimed like any other spec, then spent like code that does not
      // load: every nodejs pod would refuse it alike.
      this._failed(new loader.LoadError(loader.PACKAGES_UNSUPPORTED,
        `specialization of ${spec.function} carries package ${spec.package.digest || spec.package.url}`), reply);
      return;
    }
    Object.assign(process.env, spec.env);
    const filename = path.join(path.dirname(runner.config.codePath), 'function.js');
    let handler;
    try {
      handler = loader.loadHandler(spec.code, spec.handler, filename);
    } catch (err) {
      if (!(err instanceof loader.LoadError)) throw err;
      this._failed(err, reply);
      return;
    }
    runner.calls.become(spec.function, handler, spec.timeoutSeconds, spec.concurrency);
    const micros = specializer.done();
    runner.log.info(`Specialized as function ${spec.function} in ${micros} us`);
    reply(new contract.Response(200, { 'Content-Type': 'application/json' },
      Buffer.from(JSON.stringify({ [api.SPECIALIZE_MICROS]: micros }))));
  }

  // _failed: the user's code ran and failed, so this pod is spent. It says
  // why in its termination log and exits with the load-failure code once
  // the answer is out, so it is replaced, never reused.
  _failed(err, reply) {
    const runner = this._runner;
    runner.specializer.failed(err.message);
    runner.log.error(`Specialization failed: ${err.message}\n${err.detail}`);
    runner.writeTerminationMessage(err.message);
    reply(contract.errorResponse(422, err.message, {}, {
      close: true,
      onSent: () => runner.stop(api.LOAD_FAILED_EXIT_CODE),
    }));
  }
}

module.exports = { Admin };
