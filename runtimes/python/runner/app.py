"""One runner process: the function's calls on the call port, the runner's
own endpoints on the admin port, readiness, drain and exit.

Stopping (SIGTERM, or a pool pod whose code failed to load) drains: the
runner turns unready, stops accepting calls, closes idle connections, lets
calls in flight finish (up to their timeout plus a grace period), then
closes the admin port and reports the exit code.
"""

import gc
import logging

from . import runnerapi as api
from .admin import Admin
from .calls import Calls
from .server import Listener
from .specialize import Specializer

log = logging.getLogger("runner")


class Runner:
    """Owns the loop-side state of the process; every method runs on the
    event loop thread."""

    def __init__(self, config, handler, loop):
        self.config = config
        self.loop = loop
        self.calls = Calls(loop, config.function_name, handler, config.timeout_seconds, config.concurrency)
        self.specializer = (Specializer(config.specialize_token_sha256, config.package_settings())
                            if config.mode == api.MODE_POOL else None)
        self.call_listener = Listener(loop, self.calls, config, config.max_connections, "calls")
        self.admin_listener = Listener(loop, Admin(self), config, config.admin_max_connections, "admin")
        self.draining = False
        self.exit_code = None  # set by stop()
        self.drained = None  # whether calls in flight finished before the drain timeout
        self._stopped = loop.create_future()
        self._drain_task = None

    async def start(self):
        """Binds both ports (port 0 picks a free one: see .call_port)."""
        await self.call_listener.start(self.config.host, self.config.port)
        await self.admin_listener.start(self.config.host, self.config.admin_port)
        # What exists now lives as long as the process: the runner's own
        # modules. Frozen, the collector never walks it again (profile,
        # 100 KiB of code specialized: two generation-1 collections walked
        # the ~20,000 startup objects for 3.3-6 ms of the compile; 0.5 ms
        # frozen). Only in pool mode, where no function code has run yet: a
        # function's own start-up objects must stay collectable (it may drop
        # cyclic structures it made at import).
        if self.specializer is not None:
            gc.collect()
            gc.freeze()
            self.specializer.start()

    @property
    def call_port(self):
        return self.call_listener.port

    @property
    def admin_port(self):
        return self.admin_listener.port

    @property
    def ready(self):
        """Serving a function, or a pool pod waiting to be specialized."""
        if self.draining:
            return False
        return self.calls.handler is not None or (self.specializer is not None and self.specializer.idle)

    def stats(self):
        stats = self.calls.stats()
        if self.specializer is not None and self.specializer.micros is not None:
            stats[api.STATS_SPECIALIZE_MICROS] = self.specializer.micros
            if self.specializer.compiled:
                stats[api.STATS_SPECIALIZED_COMPILED] = True
        return stats

    def stop(self, exit_code=0):
        """Starts draining; the first caller's exit code wins."""
        if self.exit_code is not None:
            return
        self.exit_code = exit_code
        self.draining = True
        self.call_listener.drain()
        log.info("Draining: %d calls in flight", self.calls.in_flight)
        self._drain_task = self.loop.create_task(self._drain())  # referenced: the loop holds tasks weakly

    async def wait(self):
        """The exit code, once stopped."""
        return await self._stopped

    async def _drain(self):
        timeout = self.calls.timeout_seconds + self.config.drain_grace_seconds
        self.drained = await self.call_listener.wait_empty(timeout)
        self.admin_listener.drain()
        await self.admin_listener.wait_empty(self.config.linger_seconds + 1)
        self.call_listener.close()
        self.admin_listener.close()
        self.calls.close()
        if self.specializer is not None:
            self.specializer.close()
        self._stopped.set_result(self.exit_code)

    def write_termination_message(self, message):
        write_termination_message(self.config.termination_log, message)


def write_termination_message(path, message):
    """The kubelet copies this file into the container's status, where the
    operator reads it into the Function's Ready condition."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(message[:4000])
    except OSError as err:
        log.warning("Cannot write the termination message to %s: %s", path, err)
