import unittest

from runner import config as cfg
from runner.config import Config


class ConfigTest(unittest.TestCase):
    def test_local_settings_from_env(self):
        c = Config.from_env({
            cfg.ENV_HOST: "127.0.0.1", cfg.ENV_MAX_CONNECTIONS: "5", cfg.ENV_ADMIN_MAX_CONNECTIONS: "6",
            cfg.ENV_HEADER_TIMEOUT: "0.25", cfg.ENV_BODY_TIMEOUT: "1.5", cfg.ENV_IDLE_TIMEOUT: "2",
            cfg.ENV_SEND_TIMEOUT: "3", cfg.ENV_LINGER: "0.1", cfg.ENV_DRAIN_GRACE: "4",
            cfg.ENV_MAX_REQUEST_LINE: "100", cfg.ENV_MAX_HEADER_BYTES: "200", cfg.ENV_MAX_HEADER_COUNT: "7",
        }).validate()
        self.assertEqual(
            (c.host, c.max_connections, c.admin_max_connections, c.header_timeout_seconds, c.body_timeout_seconds,
             c.idle_timeout_seconds, c.send_timeout_seconds, c.linger_seconds, c.drain_grace_seconds,
             c.max_request_line_bytes, c.max_header_bytes, c.max_header_count),
            ("127.0.0.1", 5, 6, 0.25, 1.5, 2.0, 3.0, 0.1, 4.0, 100, 200, 7))

    def test_empty_values_keep_defaults(self):
        self.assertEqual(Config.from_env({"FAAS_HANDLER": "", "FAAS_CONCURRENCY": ""}), Config())

    def test_errors_name_the_variable(self):
        with self.assertRaisesRegex(ValueError, "FAAS_TIMEOUT_SECONDS"):
            Config.from_env({"FAAS_TIMEOUT_SECONDS": "soon"})
        with self.assertRaisesRegex(ValueError, "FAAS_MODE"):
            Config.from_env({"FAAS_MODE": "other"}).validate()
        with self.assertRaisesRegex(ValueError, "timeout_seconds"):
            Config.from_env({"FAAS_TIMEOUT_SECONDS": "0"}).validate()

    def test_every_timeout_is_configurable(self):
        timeouts = {f.name for f in Config.__dataclass_fields__.values() if f.name.endswith("_seconds")}
        self.assertEqual(timeouts, {"timeout_seconds", "header_timeout_seconds", "body_timeout_seconds",
                                    "idle_timeout_seconds", "send_timeout_seconds", "linger_seconds",
                                    "drain_grace_seconds"})


if __name__ == "__main__":
    unittest.main()
