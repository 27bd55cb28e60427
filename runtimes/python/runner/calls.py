"""The function: its handler threads, the call timeout and the counts
/_/stats reports.

A handler may block, loop or sleep, so it never runs on the event loop:
each call goes to one of `concurrency` handler threads, and its answer comes
back to the loop. A call still running at its deadline is answered 504 at
once, while its thread runs on (Python cannot stop a thread); its late
result is dropped.

Everything here but _work runs on the event loop thread, so the counts need
no lock. Only _answers (a deque: append and popleft are atomic) and
_wakeup_pending are shared with the handler threads; _deliver says why that
needs no lock either.
"""

import collections
import logging
import queue
import threading

from . import contract
from . import runnerapi as api

log = logging.getLogger("runner")


class _Call:
    """One call's answer slot: the first of result and deadline wins."""

    __slots__ = ("reply", "timer", "done")

    def __init__(self, reply):
        self.reply = reply
        self.timer = None
        self.done = False


class Calls:
    """Runs the handler for calls; loop-confined except for the workers."""

    def __init__(self, loop, function_name="", handler=None, timeout_seconds=30.0, concurrency=10):
        self._loop = loop
        self.function_name = function_name
        self.handler = handler  # None until code is loaded
        self.timeout_seconds = timeout_seconds
        # SimpleQueue: the C queue, the cheapest hand-over between threads.
        self._queue = queue.SimpleQueue()
        # Answers on their way back to the loop, and whether the loop has
        # been woken for them: one wake-up (a write to the loop's self-pipe)
        # carries every answer that arrives before the loop runs.
        self._answers = collections.deque()
        self._wakeup_pending = False
        self._threads = 0
        self.calls = 0  # calls started
        self.in_flight = 0  # calls not yet answered
        self._last_call = loop.time()  # when the last call was answered
        self._resize(concurrency)

    @property
    def concurrency(self):
        return self._threads

    def become(self, function_name, handler, timeout_seconds, concurrency):
        """Serves handler from now on (a pool pod's specialization)."""
        self.function_name = function_name
        self.timeout_seconds = timeout_seconds
        self._resize(concurrency)
        # Idle since now, not since the pod started: the gateway must not
        # take a pod specialized a moment ago for one idle since long.
        self._last_call = self._loop.time()
        self.handler = handler

    def handle(self, head, body, reply):
        """Runs the handler for one request (a protocol.Head and its body);
        reply(Response) is called on the loop exactly once, with the answer
        or a 504 at the deadline. Every path is the function's."""
        handler = self.handler
        if handler is None:
            reply(contract.error_response(503, "function code is not loaded"))
            return
        self.calls += 1
        self.in_flight += 1
        call = _Call(reply)
        call.timer = self._loop.call_later(self.timeout_seconds, self._expire, call)
        self._queue.put((call, handler, head, body))

    def stats(self):
        """What the gateway's idler asks every pod before scaling to zero:
        calls seen from every gateway replica, not just its own."""
        idle = 0.0 if self.in_flight else self._loop.time() - self._last_call
        return {api.STATS_CALLS: self.calls, api.STATS_IN_FLIGHT: self.in_flight,
                api.STATS_IDLE_SECONDS: round(idle, 3)}

    def close(self):
        """Lets idle handler threads exit; busy ones are daemons."""
        self._resize(0)

    def _resize(self, n):
        while self._threads < n:
            self._threads += 1
            threading.Thread(target=self._work, name=f"handler-{self._threads}", daemon=True).start()
        while self._threads > n:
            self._threads -= 1
            self._queue.put(None)

    def _finish(self, call, resp):
        if call.done:
            return  # answered 504 already
        call.done = True
        call.timer.cancel()
        self._answered()
        call.reply(resp)

    def _expire(self, call):
        if call.done:
            return
        call.done = True
        self._answered()
        log.error("function %s: call timed out after %ss", self.function_name, self.timeout_seconds)
        call.reply(contract.error_response(504, f"function did not answer within {self.timeout_seconds:g}s"))

    def _answered(self):
        self.in_flight -= 1
        self._last_call = self._loop.time()

    def _deliver(self):
        """On the loop: hands every answer that came back to its call.

        Why no lock: a handler thread appends its answer before it reads
        _wakeup_pending. If it reads True, a _deliver is scheduled that has
        not cleared the flag yet; it clears it before emptying the deque, so
        it finds the answer. If it reads False, it schedules a _deliver
        itself. At worst a _deliver finds nothing to do."""
        self._wakeup_pending = False
        answers = self._answers
        while answers:
            call, resp = answers.popleft()
            self._finish(call, resp)

    def _work(self):
        """A handler thread: takes calls until told to stop (None)."""
        get = self._queue.get
        answers = self._answers
        while True:
            item = get()
            if item is None:
                return
            call, handler, head, body = item
            resp = self._run(handler, head, body)
            answers.append((call, resp))
            if not self._wakeup_pending:
                self._wakeup_pending = True
                try:
                    self._loop.call_soon_threadsafe(self._deliver)
                except RuntimeError:
                    return  # the loop is closed: the process is exiting

    def _run(self, handler, head, body):
        """The answer to one call; never raises, so a thread never dies."""
        try:
            result = handler(contract.Request(head.method, head.path, head.query, contract.Headers(head.fields), body))
        except contract.BadRequest as err:
            return contract.error_response(400, str(err))
        except BaseException as err:  # pylint: disable=broad-except - a handler's sys.exit() too
            log.exception("function %s: handler raised %s", self.function_name, type(err).__name__)
            return contract.error_response(500, f"function raised {type(err).__name__}")
        try:
            return contract.to_response(result)
        except contract.InvalidAnswer as err:
            log.error("function %s: invalid answer: %s", self.function_name, err)
            return contract.error_response(500, f"function returned an invalid answer: {err}")
