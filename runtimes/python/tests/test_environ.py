import json
import os
import unittest

from runner import environ
from runner import runnerapi as api

HASH = "f" * 64
TICKET = "dGlja2V0LWZvci1vbmUtcGFja2FnZQ"


class TakeSecretsTest(unittest.TestCase):
    def test_reexecs_without_the_secrets_and_hands_them_over_by_pipe(self):
        env = {api.ENV_SPECIALIZE_TOKEN_SHA256: HASH, api.ENV_PACKAGE_TICKET: TICKET, "KEEP": "1"}
        execs = []

        def execve(path, argv, new_env):
            execs.append((path, argv, new_env))

        self.assertEqual(environ.take_secrets(env, execve=execve),
                         {api.ENV_SPECIALIZE_TOKEN_SHA256: HASH, api.ENV_PACKAGE_TICKET: TICKET})
        path, argv, new_env = execs[0]
        for name, value in ((api.ENV_SPECIALIZE_TOKEN_SHA256, HASH), (api.ENV_PACKAGE_TICKET, TICKET)):
            self.assertNotIn(name, new_env)
            self.assertNotIn(value, " ".join(argv) + " ".join(new_env.values()))
        self.assertEqual(new_env["KEEP"], "1")
        fd = int(new_env[environ.ENV_SECRETS_FD])
        with self.assertRaises(OSError):
            os.fstat(fd)  # read and closed

    def test_a_ticket_alone_reexecs_too(self):
        execs = []
        got = environ.take_secrets({api.ENV_PACKAGE_TICKET: TICKET}, execve=lambda p, a, e: execs.append(e))
        self.assertEqual(got, {api.ENV_PACKAGE_TICKET: TICKET})
        self.assertNotIn(api.ENV_PACKAGE_TICKET, execs[0])

    def test_new_image_reads_the_pipe(self):
        r, w = os.pipe()
        os.write(w, json.dumps({api.ENV_SPECIALIZE_TOKEN_SHA256: "a" * 64, "OTHER": "x"}).encode())
        os.close(w)
        env = {environ.ENV_SECRETS_FD: str(r)}
        self.assertEqual(environ.take_secrets(env, execve=self.fail), {api.ENV_SPECIALIZE_TOKEN_SHA256: "a" * 64})
        self.assertNotIn(environ.ENV_SECRETS_FD, env)
        with self.assertRaises(OSError):
            os.fstat(r)

    def test_bad_fd_is_no_secrets(self):
        for value in ("x", "999999"):
            with self.subTest(value=value):
                self.assertEqual(environ.take_secrets({environ.ENV_SECRETS_FD: value}, execve=self.fail), {})

    def test_no_secrets_no_exec(self):
        self.assertEqual(environ.take_secrets({"A": "b"}, execve=self.fail), {})
        env = {api.ENV_SPECIALIZE_TOKEN_SHA256: "", api.ENV_PACKAGE_TICKET: ""}
        self.assertEqual(environ.take_secrets(env, execve=self.fail), {})
        self.assertEqual(env, {})

    def test_secrets_too_large_for_the_pipe_are_refused(self):
        with self.assertRaisesRegex(ValueError, api.ENV_PACKAGE_TICKET):
            environ.take_secrets({api.ENV_PACKAGE_TICKET: "x" * (environ.MAX_SECRETS_BYTES + 1)}, execve=self.fail)


if __name__ == "__main__":
    unittest.main()
