'use strict';
// The runner contract, as the platform defines it. The one source is Go
// (internal/runnerapi), rendered to runtimes/contract/runner.json;
// tests/contract-file.test.js fails when a name or value here drifts from
// that file. Nothing here is tunable.

module.exports = Object.freeze({
  // Calls on one port, the runner's own endpoints on the other, so that no
  // call path can reach an internal endpoint.
  CALL_PORT: 8080,
  ADMIN_PORT: 8081,

  READY_PATH: '/_/ready',
  HEALTH_PATH: '/_/health',
  STATS_PATH: '/_/stats',
  SPECIALIZE_PATH: '/_/specialize',

  ENV_FUNCTION_NAME: 'FAAS_FUNCTION_NAME',
  ENV_HANDLER: 'FAAS_HANDLER',
  ENV_CODE_PATH: 'FAAS_CODE_PATH',
  ENV_TIMEOUT_SECONDS: 'FAAS_TIMEOUT_SECONDS',
  ENV_CONCURRENCY: 'FAAS_CONCURRENCY',
  ENV_PORT: 'FAAS_PORT',
  ENV_ADMIN_PORT: 'FAAS_ADMIN_PORT',
  ENV_MAX_BODY_BYTES: 'FAAS_MAX_BODY_BYTES',
  ENV_TERMINATION_LOG: 'FAAS_TERMINATION_LOG',
  ENV_MODE: 'FAAS_MODE',
  ENV_SPECIALIZE_TOKEN_SHA256: 'FAAS_SPECIALIZE_TOKEN_SHA256',

  MODE_DEPLOYMENT: 'deployment',
  MODE_POOL: 'pool',
  MODES: Object.freeze(['deployment', 'pool']),

  DEFAULT_HANDLER: 'handle',
  DEFAULT_TIMEOUT_SECONDS: 30,
  DEFAULT_CONCURRENCY: 10,
  DEFAULT_MAX_BODY_BYTES: 6 * 1024 * 1024,
  DEFAULT_TERMINATION_LOG: '/dev/termination-log',
  // The operator mounts the code ConfigMap key resources.CodeFile here; the
  // runner reads whatever file FAAS_CODE_PATH names.
  DEFAULT_CODE_PATH: '/var/faas/code/function.py',

  // Exit code of a runner whose code did not load (at start, or after a
  // 422 specialization); the operator reports only this one as LoadFailed.
  LOAD_FAILED_EXIT_CODE: 3,
  AUTHORIZATION_SCHEME: 'Bearer ',

  // JSON field names: every error answer.
  ERROR_ERROR: 'error',
  ERROR_STATUS: 'status',
  // /_/stats.
  STATS_CALLS: 'calls',
  STATS_IN_FLIGHT: 'inFlight',
  STATS_IDLE_SECONDS: 'idleSeconds',
  STATS_SPECIALIZE_MICROS: 'specializeMicros',
  // The body of a POST to /_/specialize.
  SPEC_FUNCTION: 'function',
  SPEC_HANDLER: 'handler',
  SPEC_CODE: 'code',
  SPEC_ENV: 'env',
  SPEC_TIMEOUT_SECONDS: 'timeoutSeconds',
  SPEC_CONCURRENCY: 'concurrency',
  // Its 200 answer, and the extra field of its 409 answer.
  SPECIALIZE_MICROS: 'specializeMicros',
  SPECIALIZE_CONFLICT_SPEC_HASH: 'specHash',
});
