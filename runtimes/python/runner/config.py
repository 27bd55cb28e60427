"""Runner settings, read once from the environment the operator sets."""

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything the runner is told by its pod."""

    function_name: str = ""
    code_path: str = "/var/faas/code/function.py"
    handler: str = "handle"
    timeout_seconds: float = 30.0
    concurrency: int = 10
    port: int = 8080
    max_body_bytes: int = 6 * 1024 * 1024
    termination_log: str = "/dev/termination-log"
    #: "deployment": load code_path at start; "pool": start without code and
    #: wait for one specialization from the gateway.
    mode: str = "deployment"
    #: SHA-256 (hex) of the only token that may specialize this pod.
    specialize_token_sha256: str = ""

    @classmethod
    def from_env(cls, env=None):
        """Builds a Config from FAAS_* variables; unset ones keep defaults."""
        env = os.environ if env is None else env
        d = cls()
        return cls(
            function_name=env.get("FAAS_FUNCTION_NAME", d.function_name),
            code_path=env.get("FAAS_CODE_PATH", d.code_path),
            handler=env.get("FAAS_HANDLER", d.handler) or d.handler,
            timeout_seconds=float(env.get("FAAS_TIMEOUT_SECONDS", d.timeout_seconds)),
            concurrency=max(1, int(env.get("FAAS_CONCURRENCY", d.concurrency))),
            port=int(env.get("FAAS_PORT", d.port)),
            max_body_bytes=int(env.get("FAAS_MAX_BODY_BYTES", d.max_body_bytes)),
            termination_log=env.get("FAAS_TERMINATION_LOG", d.termination_log),
            mode=env.get("FAAS_MODE", d.mode),
            specialize_token_sha256=env.get("FAAS_SPECIALIZE_TOKEN_SHA256", d.specialize_token_sha256),
        )
