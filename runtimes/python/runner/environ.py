"""Takes the runner's secrets out of the process environment: the
specialization token's hash, and a package's ticket.

os.environ.pop changes Python's copy only: /proc/self/environ shows the
block the process was exec'd with, and any function code can read it. So
when a secret is in the environment, the runner re-executes itself, before
anything else runs, with an environment without it, and hands the secrets
over through an inherited pipe; not through argv, which /proc/self/cmdline
shows just as well. The new process reads and closes the pipe at once.
"""

import json
import os
import sys

from . import runnerapi as api

#: The variables taken out of the environment.
SECRETS = (api.ENV_SPECIALIZE_TOKEN_SHA256, api.ENV_PACKAGE_TICKET)
#: Names the pipe the re-executed runner reads the secrets from.
ENV_SECRETS_FD = "FAAS_RUNNER_SECRETS_FD"
#: The pipe is written before the exec that reads it: what it carries must
#: fit its buffer (64 KiB on Linux), or the write would wait for ever.
MAX_SECRETS_BYTES = 16 << 10


def take_secrets(environ=None, execve=os.execve):
    """The secrets, {name: value}, out of the environment. When one is in
    it, replaces the process (execve does not return); otherwise returns
    those handed over by the previous image, or {}. ValueError when they do
    not fit the pipe."""
    environ = os.environ if environ is None else environ
    fd = environ.pop(ENV_SECRETS_FD, None)
    if fd is not None:
        try:
            secrets = json.loads(_read_and_close(int(fd)))
        except (ValueError, OSError):
            secrets = None
        if not isinstance(secrets, dict):
            return {}  # not a pipe this runner made: no secrets
        return {k: v for k, v in secrets.items() if k in SECRETS and isinstance(v, str)}
    secrets = {name: environ.pop(name) for name in SECRETS if name in environ}
    secrets = {name: value for name, value in secrets.items() if value}
    if not secrets:
        return {}
    payload = json.dumps(secrets).encode("utf-8")
    if len(payload) > MAX_SECRETS_BYTES:
        raise ValueError(f"{' and '.join(secrets)} hold more than {MAX_SECRETS_BYTES} bytes")
    r, w = os.pipe()
    try:
        os.write(w, payload)
    finally:
        os.close(w)
    os.set_inheritable(r, True)
    env = {k: v for k, v in environ.items() if k not in SECRETS}
    env[ENV_SECRETS_FD] = str(r)
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable, "-m", "runner"])
    execve(sys.executable, argv, env)
    # Only a test's execve returns.
    return json.loads(_read_and_close(r))


def _read_and_close(fd):
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                return b"".join(chunks).decode("utf-8")
            chunks.append(chunk)
    finally:
        os.close(fd)
