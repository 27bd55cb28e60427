"""Entry point: take the secrets out of the environment, load the code (or
the package), serve both ports, drain on SIGTERM.

Exit codes: 0 after a drain, 3 (runnerapi.LOAD_FAILED_EXIT_CODE) when the
function's code did not load, at start or in a pool pod's specialization,
4 (runnerapi.FETCH_FAILED_EXIT_CODE) when its package could not be got from
the fetcher (after a few tries at start; a pool pod's 503), which is not a
load failure, 2 for settings the runner cannot start with. Every non-zero
exit writes its reason to the termination log first.
"""

import asyncio
import dataclasses
import logging
import os
import signal
import sys

from . import environ, loader
from . import runnerapi as api
from .app import Runner, write_termination_message
from .config import Config

log = logging.getLogger("runner")


def main():
    # First of all: this may replace the process (see environ.py).
    try:
        secrets, secrets_error = environ.take_secrets(), None
    except ValueError as err:  # reported once logging is set up
        secrets, secrets_error = {}, err
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = dict(os.environ)
    env.update(secrets)
    try:
        if secrets_error is not None:
            raise secrets_error
        config = Config.from_env(env).validate()
    except ValueError as err:
        log.error("Cannot start: %s", err)
        write_termination_message(env.get(api.ENV_TERMINATION_LOG) or api.DEFAULT_TERMINATION_LOG,
                                  f"runner settings: {err}")
        return 2
    handler = None
    if config.mode != api.MODE_POOL:
        try:
            handler = load(config)
        except loader.FetchError as err:
            # Nothing is known of the code: the kubelet restarts the
            # container with backoff, and the operator does not report it
            # LoadFailed.
            log.error("Function package could not be fetched: %s", err)
            write_termination_message(config.termination_log, str(err))
            return api.FETCH_FAILED_EXIT_CODE
        except (OSError, ValueError, loader.LoadError) as err:
            what = config.package_source().name if config.package_url else config.code_path
            reason = str(err) if isinstance(err, loader.LoadError) else f"cannot load {what}: {err}"
            log.error("Function code failed to load: %s\n%s", reason, getattr(err, "detail", ""))
            write_termination_message(config.termination_log, reason)
            return api.LOAD_FAILED_EXIT_CODE
        # The ticket opened this function's package; nothing needs it now.
        config = dataclasses.replace(config, package_ticket="")
    return asyncio.run(serve(config, handler))


def load(config):
    """A deployment-mode runner's handler: from its package when it has
    one (FAAS_CODE_PATH is then ignored; a fetch that fails for a transient
    reason is tried config.package_fetch_attempts times), else from its code
    file."""
    source = config.package_source()
    if source is not None:
        from . import package  # pylint: disable=import-outside-toplevel  # see Config.package_settings
        return package.load(source, config.handler, config.package_settings(attempts=config.package_fetch_attempts))
    with open(config.code_path, encoding="utf-8") as f:
        source = f.read()
    return loader.load_handler(source, config.handler, filename=os.path.basename(config.code_path))


async def serve(config, handler):
    """Serves until SIGTERM (or a failed specialization); the exit code."""
    loop = asyncio.get_running_loop()
    runner = Runner(config, handler, loop)
    await runner.start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runner.stop)
    if handler is None:
        log.info("Pool runner waiting for a specialization on port %d (calls on port %d)",
                 runner.admin_port, runner.call_port)
    else:
        log.info("Serving function %s handler %s on port %d (admin port %d)",
                 config.function_name, config.handler, runner.call_port, runner.admin_port)
    code = await runner.wait()
    log.info("Stopped serving function %s (in-flight calls finished: %s)", runner.calls.function_name, runner.drained)
    return code


if __name__ == "__main__":
    sys.exit(main())
