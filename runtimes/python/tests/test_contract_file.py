"""The runner against runtimes/contract/runner.json, which Go generates from
internal/runnerapi: every name and value the platform relies on must be the
one the runner uses, so drift on either side fails here or in Go."""

import copy
import hashlib
import json
import os
import tempfile
import unittest

from runner import calls, contract, environ, protocol
from runner import compiler
from runner import runnerapi as api
from runner.config import LOCAL_ENV, Config
from runner.specialize import parse
from tests.fetcher import FakeFetcher, make_tar, sandbox
from tests.support import CONTRACT_FILE, RunnerTestCase

with open(CONTRACT_FILE, encoding="utf-8") as _f:
    CONTRACT = json.load(_f)

# The file's env keys, as Config field names.
ENV_FIELDS = {
    "adminPort": "admin_port", "codePath": "code_path", "concurrency": "concurrency",
    "functionName": "function_name", "handler": "handler", "maxBodyBytes": "max_body_bytes", "mode": "mode",
    "port": "port", "specializeTokenSHA256": "specialize_token_sha256", "terminationLog": "termination_log",
    "timeoutSeconds": "timeout_seconds", "packageURL": "package_url", "packageTicket": "package_ticket",
    "packageDigest": "package_digest", "packageModule": "package_module", "packageDir": "package_dir",
}
ENV_CONSTANTS = {
    "adminPort": api.ENV_ADMIN_PORT, "codePath": api.ENV_CODE_PATH, "concurrency": api.ENV_CONCURRENCY,
    "functionName": api.ENV_FUNCTION_NAME, "handler": api.ENV_HANDLER, "maxBodyBytes": api.ENV_MAX_BODY_BYTES,
    "mode": api.ENV_MODE, "port": api.ENV_PORT, "specializeTokenSHA256": api.ENV_SPECIALIZE_TOKEN_SHA256,
    "terminationLog": api.ENV_TERMINATION_LOG, "timeoutSeconds": api.ENV_TIMEOUT_SECONDS,
    "packageURL": api.ENV_PACKAGE_URL, "packageTicket": api.ENV_PACKAGE_TICKET,
    "packageDigest": api.ENV_PACKAGE_DIGEST, "packageModule": api.ENV_PACKAGE_MODULE,
    "packageDir": api.ENV_PACKAGE_DIR,
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
                  "specializeTokenSHA256": "ab" * 32, "terminationLog": "/t/log", "timeoutSeconds": "12.5",
                  "packageURL": "http://10.0.0.1:8090/p", "packageTicket": "t", "packageDigest": "sha256:00",
                  "packageModule": "app.main", "packageDir": "/p"}
        self.assertEqual(set(values), set(CONTRACT["env"]))
        config = Config.from_env({CONTRACT["env"][key]: value for key, value in values.items()})
        for key, value in values.items():
            with self.subTest(key=key):
                got = getattr(config, ENV_FIELDS[key])
                self.assertEqual(got, type(got)(value))

    def test_defaults(self):
        d = CONTRACT["defaults"]
        config = Config.from_env({})
        self.assertEqual(set(d), {"concurrency", "handler", "maxBodyBytes", "mode", "terminationLog", "timeoutSeconds",
                                  "packageDir", "packageModule"})
        for key, value in d.items():
            with self.subTest(key=key):
                self.assertEqual(getattr(config, ENV_FIELDS[key]), value)
        self.assertEqual(CONTRACT["modes"], list(api.MODES))
        self.assertEqual(d["mode"], api.MODE_DEPLOYMENT)

    def test_fetcher(self):
        self.assertEqual(CONTRACT["fetcher"], {"path": api.FETCH_PATH, "port": api.FETCHER_PORT,
                                               "mediaType": api.PACKAGE_MEDIA_TYPE, "codeDir": api.PACKAGE_CODE_DIR,
                                               "depsDir": api.PACKAGE_DEPS_DIR})

    def test_compiler(self):
        self.assertEqual(CONTRACT["compiler"], {"specLengthHeader": api.SPEC_LENGTH_HEADER, "path": api.COMPILE_PATH,
                                                "port": api.COMPILER_PORT, "mediaType": api.COMPILED_MEDIA_TYPE,
                                                "maxBytes": api.COMPILE_MAX_BYTES})

    def test_exit_codes_and_scheme(self):
        self.assertEqual(CONTRACT["loadFailedExitCode"], api.LOAD_FAILED_EXIT_CODE)
        self.assertEqual(CONTRACT["fetchFailedExitCode"], api.FETCH_FAILED_EXIT_CODE)
        self.assertNotEqual(api.FETCH_FAILED_EXIT_CODE, api.LOAD_FAILED_EXIT_CODE)
        self.assertEqual(CONTRACT["authorizationScheme"], api.AUTHORIZATION_SCHEME)

    def test_secrets_are_taken_by_their_contract_names(self):
        names = CONTRACT["env"]["specializeTokenSHA256"], CONTRACT["env"]["packageTicket"]
        env = {names[0]: "ab" * 32, names[1]: "ticket", "OTHER": "x"}
        execs = []
        got = environ.take_secrets(env, execve=lambda path, argv, e: execs.append(e))
        self.assertEqual(got, {names[0]: "ab" * 32, names[1]: "ticket"})
        for name in names:
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
        self.assertIsNone(spec.package)

    def test_package_specialization_example_parses(self):
        example = CONTRACT["examples"]["packageSpecialization"]
        spec = parse(json.dumps(example).encode())
        pkg = example["package"]
        self.assertEqual((spec.function, spec.handler_name, spec.code, spec.env),
                         (example["function"], example["handler"], "", example["env"]))
        self.assertEqual((spec.package.url, spec.package.ticket, spec.package.digest, spec.package.module),
                         (pkg["url"], pkg["ticket"], pkg["digest"], pkg["module"]))
        self.assertTrue(pkg["url"].startswith("http://") and f":{CONTRACT['fetcher']['port']}"
                        f"{CONTRACT['fetcher']['path']}" in pkg["url"])


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
        # With its code compiled, as the gateway sends it once the compiler
        # compiled it: the stats then say so.
        code = examples["specialization"]["code"]
        compiled = compiler.compile_isolated(code.encode(), compiler.Settings({  # see test_compiler.settings
            "FAAS_COMPILE_MEMORY_BYTES": "0"}))
        status, _, result = self.request("POST", CONTRACT["paths"]["specialize"], body=body + compiled,
                                         headers={**auth, CONTRACT["compiler"]["specLengthHeader"]: str(len(body))},
                                         admin=True)
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


class ContractPackageTest(RunnerTestCase):
    """The example package specialization is accepted by a pool runner,
    fetched with its ticket, and answered like inline code."""

    TOKEN = "t0ken"

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="contract-package-")
        self.addCleanup(tmp.cleanup)
        self.fetcher = FakeFetcher()
        self.addCleanup(self.fetcher.close)
        sandbox(self)
        self.serve(Config(host="127.0.0.1", port=0, admin_port=0, mode=api.MODE_POOL,
                          package_dir=os.path.join(tmp.name, "package"),
                          specialize_token_sha256=hashlib.sha256(self.TOKEN.encode()).hexdigest()))

    def test_package_specialization_example_is_accepted(self):
        example = copy.deepcopy(CONTRACT["examples"]["packageSpecialization"])
        served = self.fetcher.add(make_tar({f"{CONTRACT['fetcher']['codeDir']}/{example['package']['module']}.py":
                                            f"def {example['handler']}(req):\n    return 'from a package'\n"}),
                                  ticket=example["package"]["ticket"])
        example["package"]["url"] = served["url"]  # the example's is a cluster IP
        body = json.dumps(example).encode()
        auth = {"Authorization": CONTRACT["authorizationScheme"] + self.TOKEN}
        status, _, result = self.request("POST", CONTRACT["paths"]["specialize"], body=body, headers=auth, admin=True)
        self.assertEqual(status, 200, result)
        self.assertEqual(set(json.loads(result)), set(CONTRACT["examples"]["specializeResult"]))
        self.assertEqual(self.request("GET", "/")[2], b"from a package")
        self.assertEqual(self.fetcher.requests[-1][1]["Authorization"],
                         CONTRACT["authorizationScheme"] + example["package"]["ticket"])
        self.assertEqual(self.fetcher.requests[-1][1]["Accept"], CONTRACT["fetcher"]["mediaType"])
        status, _, conflict = self.request("POST", CONTRACT["paths"]["specialize"], body=body, headers=auth,
                                           admin=True)
        self.assertEqual((status, json.loads(conflict)["specHash"]), (409, hashlib.sha256(body).hexdigest()))


if __name__ == "__main__":
    unittest.main()
