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
            cfg.ENV_PACKAGE_TIMEOUT: "9.5", cfg.ENV_PACKAGE_MAX_BYTES: "1000", cfg.ENV_PACKAGE_MAX_ENTRIES: "8",
            cfg.ENV_PACKAGE_FETCH_ATTEMPTS: "5", cfg.ENV_PACKAGE_FETCH_BACKOFF: "0.125",
        }).validate()
        self.assertEqual(
            (c.host, c.max_connections, c.admin_max_connections, c.header_timeout_seconds, c.body_timeout_seconds,
             c.idle_timeout_seconds, c.send_timeout_seconds, c.linger_seconds, c.drain_grace_seconds,
             c.max_request_line_bytes, c.max_header_bytes, c.max_header_count, c.package_timeout_seconds,
             c.package_max_bytes, c.package_max_entries, c.package_fetch_attempts, c.package_fetch_backoff_seconds),
            ("127.0.0.1", 5, 6, 0.25, 1.5, 2.0, 3.0, 0.1, 4.0, 100, 200, 7, 9.5, 1000, 8, 5, 0.125))
        settings = c.package_settings()
        self.assertEqual((settings.timeout_seconds, settings.fetch_attempts, settings.retry_backoff_seconds),
                         (9.5, 1, 0.125))  # one try unless asked: a pool pod answers 503 at once
        self.assertEqual(c.package_settings(attempts=c.package_fetch_attempts).fetch_attempts, 5)

    def test_empty_values_keep_defaults(self):
        self.assertEqual(Config.from_env({"FAAS_HANDLER": "", "FAAS_CONCURRENCY": ""}), Config())

    def test_errors_name_the_variable(self):
        with self.assertRaisesRegex(ValueError, "FAAS_TIMEOUT_SECONDS"):
            Config.from_env({"FAAS_TIMEOUT_SECONDS": "soon"})
        with self.assertRaisesRegex(ValueError, "FAAS_MODE"):
            Config.from_env({"FAAS_MODE": "other"}).validate()
        with self.assertRaisesRegex(ValueError, "timeout_seconds"):
            Config.from_env({"FAAS_TIMEOUT_SECONDS": "0"}).validate()
        with self.assertRaisesRegex(ValueError, "package_fetch_attempts"):
            Config.from_env({"FAAS_PACKAGE_FETCH_ATTEMPTS": "0"}).validate()

    def test_every_timeout_is_configurable(self):
        timeouts = {f.name for f in Config.__dataclass_fields__.values() if f.name.endswith("_seconds")}
        self.assertEqual(timeouts, {"timeout_seconds", "header_timeout_seconds", "body_timeout_seconds",
                                    "idle_timeout_seconds", "send_timeout_seconds", "linger_seconds",
                                    "drain_grace_seconds", "package_timeout_seconds",
                                    "package_fetch_backoff_seconds"})

    def test_package_source_only_with_a_url(self):
        self.assertIsNone(Config.from_env({"FAAS_PACKAGE_TICKET": "t"}).package_source())
        source = Config.from_env({"FAAS_PACKAGE_URL": "http://10.0.0.1:8090/p", "FAAS_PACKAGE_TICKET": "t",
                                  "FAAS_PACKAGE_DIGEST": "sha256:ab"}).package_source()
        self.assertEqual((source.url, source.ticket, source.digest, source.module),
                         ("http://10.0.0.1:8090/p", "t", "sha256:ab", "handler"))

    def test_the_ticket_is_not_in_the_repr(self):
        config = Config.from_env({"FAAS_PACKAGE_URL": "http://h:1/p", "FAAS_PACKAGE_TICKET": "s3cret-ticket"})
        self.assertNotIn("s3cret-ticket", repr(config))
        self.assertNotIn("s3cret-ticket", repr(config.package_source()))


if __name__ == "__main__":
    unittest.main()
