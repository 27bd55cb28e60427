'use strict';
// The function's calls: at most `concurrency` handlers run at once, more
// wait in a FIFO queue; every call is answered exactly once, with the
// handler's answer or a 504 at its deadline (which runs from arrival, as
// in the Python runner). A call past its deadline gives its slot back at
// once: the handler's promise may still settle, and is ignored.
//
// Every path is the function's. A handler that blocks the event loop (a
// synchronous busy loop) cannot be preempted: JavaScript has no threads to
// spare here, so such a call holds every other one up until it returns.

const contract = require('./contract');

class Calls {
  constructor({ functionName = '', handler = null, timeoutSeconds = 30, concurrency = 10, log = console } = {}) {
    this.functionName = functionName;
    this.handler = handler; // null until code is loaded
    this.timeoutSeconds = timeoutSeconds;
    this.concurrency = concurrency;
    this.log = log;
    this.calls = 0; // calls started
    this.inFlight = 0; // calls not yet answered (running or queued)
    this._running = 0;
    this._queue = []; // calls waiting for a slot, oldest first
    this._lastCall = performance.now(); // when the last call was answered
  }

  // become serves handler from now on (a pool pod's specialization).
  become(functionName, handler, timeoutSeconds, concurrency) {
    this.functionName = functionName;
    this.timeoutSeconds = timeoutSeconds;
    this.concurrency = concurrency;
    // Idle since now, not since the pod started: the gateway must not take a
    // pod specialized a moment ago for one idle since long.
    this._lastCall = performance.now();
    this.handler = handler;
  }

  // handle runs the handler for one request (a contract.Request); reply is
  // called exactly once with a contract.Response.
  handle(req, reply) {
    const handler = this.handler;
    if (handler === null) {
      reply(contract.errorResponse(503, 'function code is not loaded'));
      return;
    }
    this.calls += 1;
    this.inFlight += 1;
    const call = { req, reply, handler, done: false, started: false, timer: null };
    call.timer = setTimeout(() => this._expire(call), this.timeoutSeconds * 1000);
    this._queue.push(call);
    this._pump();
  }

  stats() {
    const idle = this.inFlight ? 0 : (performance.now() - this._lastCall) / 1000;
    return { calls: this.calls, inFlight: this.inFlight, idleSeconds: Math.round(idle * 1000) / 1000 };
  }

  _pump() {
    while (this._running < this.concurrency && this._queue.length) {
      const call = this._queue.shift();
      if (call.done) continue; // expired while queued
      call.started = true;
      this._running += 1;
      this._run(call)
        .catch((err) => {
          // _run never rejects; should it, the call still gets an answer.
          this.log.error(`function ${this.functionName}: ${err && err.stack || String(err)}`);
          return contract.errorResponse(500, 'function returned an invalid answer');
        })
        .then((resp) => {
          if (!call.done) this._running -= 1; // an expired call gave its slot back already
          this._finish(call, resp);
          this._pump();
        });
    }
  }

  // _run resolves to the answer to one call; never rejects.
  async _run(call) {
    let result;
    try {
      result = await call.handler(call.req);
    } catch (err) {
      if (err instanceof contract.BadRequest) return contract.errorResponse(400, err.message);
      const name = contract.errorName(err);
      if (!call.done) {
        this.log.error(`function ${this.functionName}: handler raised ${name}\n${err && err.stack || String(err)}`);
      }
      return contract.errorResponse(500, `function raised ${name}`);
    }
    try {
      return contract.toResponse(result);
    } catch (err) {
      // InvalidAnswer, or anything the answer itself throws while it is
      // read (a getter, a Proxy): the caller gets a 500 now, not a 504.
      const why = err instanceof contract.InvalidAnswer ? err.message : `reading it raised ${contract.errorName(err)}`;
      this.log.error(`function ${this.functionName}: invalid answer: ${why}`);
      return contract.errorResponse(500, `function returned an invalid answer: ${why}`);
    }
  }

  _finish(call, resp) {
    if (call.done) return; // answered 504 already
    call.done = true;
    clearTimeout(call.timer);
    this._answered();
    call.reply(resp);
  }

  _expire(call) {
    if (call.done) return;
    call.done = true;
    if (call.started) {
      this._running -= 1;
      this._pump();
    }
    this._answered();
    this.log.error(`function ${this.functionName}: call timed out after ${this.timeoutSeconds}s`);
    call.reply(contract.errorResponse(504, `function did not answer within ${this.timeoutSeconds}s`));
  }

  _answered() {
    this.inFlight -= 1;
    this._lastCall = performance.now();
  }
}

module.exports = { Calls };
