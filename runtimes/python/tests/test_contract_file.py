"""The runner against runtimes/contract/runner.json, which Go generates from
internal/runnerapi: every name and value the platform relies on must be the
one the runner uses, so drift on either side fails here or in Go."""

import hashlib
import json
import unittest

from runner import calls, contract, environ, protocol
from runner import runnerapi as api
from runner.config import LOCAL_ENV, Config
from runner.specialize import parse
from tests.support import CONTRACT_FILE, RunnerTestCase

with open(CONTRACT_FILE, encoding="utf-8") as _f:
    CONTRACT = json.load(_f)

# The file's env keys, as Config field names.
ENV_FIELDS = {
    "adminPort": "admin_port", "codePath": "code_path", "concurrency": "concurrency",
    "functionName": "function_name", "handler": "handler", "maxBodyBytes": "max_body_bytes", "mode": "mode",
    "port": "port", "specializeTokenSHA256": "specialize_token_sha256", "terminationLog": "termination_log",
    "timeoutSeconds": "timeout_seconds",
}
ENV_CONSTANTS = {
    "adminPort": api.ENV_ADMIN_PORT, "codePath": api.ENV_CODE_PATH, "concurrency": api.ENV_CONCURRENCY,
    "functionName": api.ENV_FUNCTION_NAME, "handler": api.ENV_HANDLER, "maxBodyBytes": api.ENV_MAX_BODY_BYTES,
    "mode": api.ENV_MODE, "port": api.ENV_PORT, "specializeTokenSHA256": api.ENV_SPECIALIZE_TOKEN_SHA256,
    "terminationLog": api.ENV_TERMINATION_LOG, "timeoutSeconds": api.ENV_TIMEOUT_SECONDS,
}


class ContractFileTest(unittest.TestCase):
    def test_ports(self):
        ports = CONTRACT["ports"]
        self.assertEqual(set(ports), {"calls", "admin"})
        self.assertEqual((ports["calls"]["env"], ports["calls"]["default"]), (api.ENV_PORT, api.CALL_PORT))
        self.assertEqual((ports["admin"]["env"], ports["admin"]["default"]), (api.ENV_ADMIN_PORT, api.ADMIN_PORT))
        self.assertEqual((Config().port, Config().admin_port), (ports["calls"]["default"], ports["admin"]["default"]))

    def test_paths(self):
        self.assertEqual(CONTRACT["paths"], {"ready": api.READY_PATH, "health": api.HEALTH_PATH,
                                             "stats": api.STATS_PATH, "specialize": api.SPECIALIZE_PATH})

    def test_env_names(self):
        self.assertEqual(CONTRACT["env"], ENV_CONSTANTS)
        # The runner's own variables never take a platform name.
        self.assertFalse(set(LOCAL_ENV) & set(CONTRACT["env"].values()))

    def test_config_reads_the_contract_env_names(self):
        values = {"adminPort": "9001", "codePath": "/c/f.py", "concurrency": "7", "functionName": "fn",
                  "handler": "main", "maxBodyBytes": "123", "mode": "pool", "port": "9000",
                  "specializeTokenSHA256": "ab" * 32, "terminationLog": "/t/log", "timeoutSeconds": "12.5"}
        self.assertEqual(set(values), set(CONTRACT["env"]))
        config = Config.from_env({CONTRACT["env"][key]: value for key, value in values.items()})
        for key, value in values.items():
            with self.subTest(key=key):
                got = getattr(config, ENV_FIELDS[key])
                self.assertEqual(got, type(got)(value))

    def test_defaults(self):
        d = CONTRACT["defaults"]
        config = Config.from_env({})
        self.assertEqual(set(d), {"concurrency", "handler", "maxBodyBytes", "mode", "terminationLog", "timeoutSeconds"})
        for key, value in d.items():
            with self.subTest(key=key):
                self.assertEqual(getattr(config, ENV_FIELDS[key]), value)
        self.assertEqual(CONTRACT["modes"], list(api.MODES))
        self.assertEqual(d["mode"], api.MODE_DEPLOYMENT)

    def test_load_failed_exit_code_and_scheme(self):
        self.assertEqual(CONTRACT["loadFailedExitCode"], api.LOAD_FAILED_EXIT_CODE)
        self.assertEqual(CONTRACT["authorizationScheme"], api.AUTHORIZATION_SCHEME)

    def test_token_hash_is_taken_from_the_contract_name(self):
        name = CONTRACT["env"]["specializeTokenSHA256"]
        env = {name: "ab" * 32, "OTHER": "x"}
        execs = []
        got = environ.take_token_hash(env, execve=lambda path, argv, e: execs.append(e))
        self.assertEqual(got, "ab" * 32)
        self.assertNotIn(name, execs[0])

    def test_error_example_is_what_a_raising_handler_gets(self):
        example = CONTRACT["examples"]["error"]
        runner_calls = calls.Calls.__new__(calls.Calls)
        runner_calls.function_name = "f"
        head = protocol.Head()
        with self.assertLogs("runner", level="ERROR"):
            resp = runner_calls._run(lambda req: 1 / 0, head, b"")  # pylint: disable=protected-access
        self.assertEqual(json.loads(resp.body), example)
        self.assertEqual(json.loads(contract.error_response(example["status"], example["error"]).body), example)

    def test_specialization_example_parses(self):
        example = CONTRACT["examples"]["specialization"]
        spec = parse(json.dumps(example).encode())
        self.assertEqual((spec.function, spec.handler_name, spec.code, spec.env, spec.timeout_seconds,
                          spec.concurrency),
                         (example["function"], example["handler"], example["code"], example["env"],
                          example["timeoutSeconds"], example["concurrency"]))


class ContractMessagesTest(RunnerTestCase):
    """The JSON a pool runner answers has exactly the example's fields."""

    TOKEN = "t0ken"

    def setUp(self):
        self.serve(Config(host="127.0.0.1", port=0, admin_port=0, mode=api.MODE_POOL,
                          specialize_token_sha256=hashlib.sha256(self.TOKEN.encode()).hexdigest()))

    def test_specialization_result_conflict_and_stats(self):
        examples = CONTRACT["examples"]
        body = json.dumps(examples["specialization"]).encode()
        auth = {"Authorization": CONTRACT["authorizationScheme"] + self.TOKEN}
        status, _, result = self.request("POST", CONTRACT["paths"]["specialize"], body=body, headers=auth, admin=True)
        self.assertEqual(status, 200)
        self.assertEqual(set(json.loads(result)), set(examples["specializeResult"]))
        self.assertEqual(self.request("GET", "/")[2], b"hi")

        status, _, conflict = self.request("POST", CONTRACT["paths"]["specialize"], body=body, headers=auth, admin=True)
        conflict = json.loads(conflict)
        self.assertEqual(status, examples["specializeConflict"]["status"])
        self.assertEqual(set(conflict), set(examples["specializeConflict"]))
        self.assertEqual(conflict["error"], examples["specializeConflict"]["error"])
        self.assertEqual(conflict["specHash"], hashlib.sha256(body).hexdigest())

        _, _, stats = self.request("GET", CONTRACT["paths"]["stats"], admin=True)
        stats = json.loads(stats)
        self.assertEqual(set(stats), set(examples["stats"]))
        for key, value in examples["stats"].items():
            self.assertIsInstance(stats[key], type(value), key)


if __name__ == "__main__":
    unittest.main()
