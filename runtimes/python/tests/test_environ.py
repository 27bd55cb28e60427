import os
import unittest

from runner import environ
from runner import runnerapi as api


class TakeTokenHashTest(unittest.TestCase):
    def test_reexecs_without_the_hash_and_hands_it_over_by_pipe(self):
        env = {api.ENV_SPECIALIZE_TOKEN_SHA256: "f" * 64, "KEEP": "1"}
        execs = []

        def execve(path, argv, new_env):
            execs.append((path, argv, new_env))

        self.assertEqual(environ.take_token_hash(env, execve=execve), "f" * 64)
        path, argv, new_env = execs[0]
        self.assertNotIn(api.ENV_SPECIALIZE_TOKEN_SHA256, new_env)
        self.assertNotIn("f" * 64, " ".join(argv) + " ".join(new_env.values()))
        self.assertEqual(new_env["KEEP"], "1")
        fd = int(new_env[environ.ENV_TOKEN_FD])
        with self.assertRaises(OSError):
            os.fstat(fd)  # read and closed

    def test_new_image_reads_the_pipe(self):
        r, w = os.pipe()
        os.write(w, b"a" * 64)
        os.close(w)
        env = {environ.ENV_TOKEN_FD: str(r)}
        self.assertEqual(environ.take_token_hash(env, execve=self.fail), "a" * 64)
        self.assertNotIn(environ.ENV_TOKEN_FD, env)
        with self.assertRaises(OSError):
            os.fstat(r)

    def test_bad_fd_is_no_hash(self):
        for value in ("x", "999999"):
            with self.subTest(value=value):
                self.assertEqual(environ.take_token_hash({environ.ENV_TOKEN_FD: value}, execve=self.fail), "")

    def test_no_hash_no_exec(self):
        self.assertEqual(environ.take_token_hash({"A": "b"}, execve=self.fail), "")
        env = {api.ENV_SPECIALIZE_TOKEN_SHA256: ""}
        self.assertEqual(environ.take_token_hash(env, execve=self.fail), "")
        self.assertNotIn(api.ENV_SPECIALIZE_TOKEN_SHA256, env)


if __name__ == "__main__":
    unittest.main()
