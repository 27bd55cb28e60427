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
  // A package in deployment mode: with ENV_PACKAGE_URL set, a runner that
  // supports packages loads it instead of ENV_CODE_PATH. This one does not
  // (python only): it reports such a pod as a load failure (main.js).
  ENV_PACKAGE_URL: 'FAAS_PACKAGE_URL',
  ENV_PACKAGE_TICKET: 'FAAS_PACKAGE_TICKET',
  ENV_PACKAGE_DIGEST: 'FAAS_PACKAGE_DIGEST',
  ENV_PACKAGE_MODULE: 'FAAS_PACKAGE_MODULE',
  // Where a package is unpacked: an emptyDir of the pod.
  ENV_PACKAGE_DIR: 'FAAS_PACKAGE_DIR',

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
  DEFAULT_PACKAGE_DIR: '/var/faas/package',
  DEFAULT_PACKAGE_MODULE: 'handler',

  // Exit code of a runner whose code did not load (at start, or after a
  // 422 specialization); the operator reports only this one as LoadFailed.
  LOAD_FAILED_EXIT_CODE: 3,
  // Exit code of a runner that could not get its package from the fetcher.
  // Never this runner's: it fetches no package (a package is a load failure).
  FETCH_FAILED_EXIT_CODE: 4,
  // Prefix of the specialization token in the Authorization header, and of
  // a package's ticket in the request to the fetcher.
  AUTHORIZATION_SCHEME: 'Bearer ',

  // The node-local fetcher of packages (an uncompressed tar of
  // PACKAGE_CODE_DIR/ and PACKAGE_DEPS_DIR/). Known here, used by the
  // python runner only.
  FETCH_PATH: '/v1/packages/',
  FETCHER_PORT: 8090,
  PACKAGE_MEDIA_TYPE: 'application/x-tar',
  PACKAGE_CODE_DIR: 'code',
  PACKAGE_DEPS_DIR: 'deps',

  // JSON field names: every error answer.
  ERROR_ERROR: 'error',
  ERROR_STATUS: 'status',
  // /_/stats.
  STATS_CALLS: 'calls',
  STATS_IN_FLIGHT: 'inFlight',
  STATS_IDLE_SECONDS: 'idleSeconds',
  STATS_SPECIALIZE_MICROS: 'specializeMicros',
  // Omitted when false; always false here: only python pods load code the
  // faas-compiler compiled ahead.
  STATS_SPECIALIZED_COMPILED: 'specializedCompiled',
  // The body of a POST to /_/specialize.
  SPEC_FUNCTION: 'function',
  SPEC_HANDLER: 'handler',
  SPEC_CODE: 'code',
  SPEC_PACKAGE: 'package',
  SPEC_ENV: 'env',
  SPEC_TIMEOUT_SECONDS: 'timeoutSeconds',
  SPEC_CONCURRENCY: 'concurrency',
  // Its package object, set instead of code (refused here: python only).
  PACKAGE_URL: 'url',
  PACKAGE_TICKET: 'ticket',
  PACKAGE_DIGEST: 'digest',
  PACKAGE_MODULE: 'module',
  // Its 200 answer, and the extra field of its 409 answer.
  SPECIALIZE_MICROS: 'specializeMicros',
  SPECIALIZE_CONFLICT_SPEC_HASH: 'specHash',
});
