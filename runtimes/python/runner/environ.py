"""Takes the specialization token's hash out of the process environment.

os.environ.pop changes Python's copy only: /proc/self/environ shows the
block the process was exec'd with, and any function code can read it. So
when the hash is in the environment, the runner re-executes itself, before
anything else runs, with an environment without it, and hands the hash over
through an inherited pipe; not through argv, which /proc/self/cmdline shows
just as well. The new process reads and closes the pipe at once.
"""

import os
import sys

from . import runnerapi as api

#: Names the pipe the re-executed runner reads the hash from.
ENV_TOKEN_FD = "FAAS_SPECIALIZE_TOKEN_FD"


def take_token_hash(environ=None, execve=os.execve):
    """The token hash, out of the environment. When the hash is in it,
    replaces the process (execve does not return); otherwise returns the
    hash handed over by the previous image, or ""."""
    environ = os.environ if environ is None else environ
    fd = environ.pop(ENV_TOKEN_FD, None)
    if fd is not None:
        try:
            return _read_and_close(int(fd))
        except (ValueError, OSError):
            return ""  # not a pipe this runner made: no hash
    value = environ.pop(api.ENV_SPECIALIZE_TOKEN_SHA256, None)
    if not value:
        return ""
    r, w = os.pipe()
    try:
        os.write(w, value.encode("utf-8"))  # 64 hex digits: far below the pipe's buffer
    finally:
        os.close(w)
    os.set_inheritable(r, True)
    env = {k: v for k, v in environ.items() if k != api.ENV_SPECIALIZE_TOKEN_SHA256}
    env[ENV_TOKEN_FD] = str(r)
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable, "-m", "runner"])
    execve(sys.executable, argv, env)
    # Only a test's execve returns.
    return _read_and_close(r)


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
