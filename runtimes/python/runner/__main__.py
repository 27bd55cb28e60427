"""Entry point: load the code, serve, drain on SIGTERM."""

import logging
import os
import signal
import sys
import threading

from . import loader, server
from .config import Config


def main():
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("runner")
    config = Config.from_env()
    # The function's code must not see how this pod is specialized.
    os.environ.pop("FAAS_SPECIALIZE_TOKEN_SHA256", None)
    handler = None
    if config.mode != "pool":
        try:
            with open(config.code_path, encoding="utf-8") as f:
                source = f.read()
            handler = loader.load_handler(source, config.handler, filename=_basename(config.code_path))
        except (OSError, loader.LoadError) as err:
            reason = f"cannot load {config.code_path}: {err}" if isinstance(err, OSError) else str(err)
            log.error("Function code failed to load: %s\n%s", reason, getattr(err, "detail", ""))
            _write_termination_message(config.termination_log, reason)
            return 1

    runner = server.Runner(config, handler)
    httpd = server.Server(("", config.port), runner)
    stopped = threading.Event()

    def on_sigterm(signum, frame):  # pylint: disable=unused-argument
        if stopped.is_set():
            return
        stopped.set()
        # shutdown() waits for serve_forever to return: call it off this thread.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigterm)
    if handler is None:
        log.info("Pool runner waiting for a specialization on port %d", config.port)
    else:
        log.info("Serving function %s handler %s on port %d", config.function_name, config.handler, config.port)
    httpd.serve_forever(poll_interval=0.2)
    drained = runner.drain(timeout=config.timeout_seconds + 5)
    httpd.server_close()
    log.info("Stopped serving function %s (in-flight calls finished: %s)", config.function_name, drained)
    return 0


def _basename(path):
    return path.rsplit("/", 1)[-1]


def _write_termination_message(path, message):
    """The kubelet copies this file into the container's status, where the
    operator reads it into the Function's Ready condition."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(message[:4000])
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
