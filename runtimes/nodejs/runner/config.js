'use strict';
// Runner settings, read once from the environment at start. The platform
// sets the variables named in runnerapi; the FAAS_HTTP_* ones are the
// runner's own limits and deadlines (the platform leaves them at their
// defaults, tests shorten them). Every timeout the runner has is here.

const api = require('./runnerapi');

// Runner-local variables: not part of the platform contract.
const LOCAL_ENV = Object.freeze({
  host: 'FAAS_HTTP_HOST',
  maxConnections: 'FAAS_HTTP_MAX_CONNECTIONS',
  adminMaxConnections: 'FAAS_HTTP_ADMIN_MAX_CONNECTIONS',
  headerTimeoutSeconds: 'FAAS_HTTP_HEADER_TIMEOUT_SECONDS',
  bodyTimeoutSeconds: 'FAAS_HTTP_BODY_TIMEOUT_SECONDS',
  idleTimeoutSeconds: 'FAAS_HTTP_IDLE_TIMEOUT_SECONDS',
  sendTimeoutSeconds: 'FAAS_HTTP_SEND_TIMEOUT_SECONDS',
  lingerSeconds: 'FAAS_HTTP_LINGER_SECONDS',
  drainGraceSeconds: 'FAAS_HTTP_DRAIN_GRACE_SECONDS',
  maxRequestLineBytes: 'FAAS_HTTP_MAX_REQUEST_LINE_BYTES',
  maxHeaderBytes: 'FAAS_HTTP_MAX_HEADER_BYTES',
  maxHeaderCount: 'FAAS_HTTP_MAX_HEADER_COUNT',
});

const DEFAULTS = Object.freeze({
  functionName: '',
  codePath: api.DEFAULT_CODE_PATH,
  handler: api.DEFAULT_HANDLER,
  // A call running longer is answered 504.
  timeoutSeconds: api.DEFAULT_TIMEOUT_SECONDS,
  // Calls that run at once; more wait in a FIFO queue (their timeout runs).
  concurrency: api.DEFAULT_CONCURRENCY,
  port: api.CALL_PORT,
  adminPort: api.ADMIN_PORT,
  maxBodyBytes: api.DEFAULT_MAX_BODY_BYTES,
  terminationLog: api.DEFAULT_TERMINATION_LOG,
  mode: api.MODE_DEPLOYMENT,
  // SHA-256 (hex) of the only token that may specialize this pod; never in
  // process.env once function code can run (see environ.js).
  specializeTokenSHA256: '',
  // A package to load instead of codePath (deployment mode). Read so that
  // the runner can say it cannot load one: packages are python only.
  packageURL: '',
  packageTicket: '',
  packageDigest: '',
  packageModule: api.DEFAULT_PACKAGE_MODULE,
  packageDir: api.DEFAULT_PACKAGE_DIR,

  // '' is every IPv4 and IPv6 address.
  host: '',
  // Open connections per port; at the limit a new connection closes the
  // longest-waiting one with no request in progress, or is answered 503.
  maxConnections: 512,
  adminMaxConnections: 64,
  // From accept (or a kept-alive request's first byte) to the end of the
  // head: slowloris. Node's headersTimeout.
  headerTimeoutSeconds: 10,
  // From the end of the head to the end of the body; with the above it is
  // Node's requestTimeout.
  bodyTimeoutSeconds: 60,
  // Keep-alive idleness; above the gateway's 60 s so that the gateway, not
  // the runner, closes the connection. Node's keepAliveTimeout.
  idleTimeoutSeconds: 75,
  // A peer that reads nothing of an answer for this long is dropped.
  sendTimeoutSeconds: 30,
  // After an answer that closes the connection, unread input is read and
  // dropped this long so that the peer gets the answer, not a reset.
  lingerSeconds: 2,
  // On SIGTERM, calls in flight get their timeout plus this to finish.
  drainGraceSeconds: 5,
  maxRequestLineBytes: 8192,
  // The whole head, request line included (Node's maxHeaderSize).
  maxHeaderBytes: 65536,
  maxHeaderCount: 128,
});

const PLATFORM_ENV = Object.freeze({
  functionName: [api.ENV_FUNCTION_NAME, String],
  codePath: [api.ENV_CODE_PATH, String],
  handler: [api.ENV_HANDLER, String],
  timeoutSeconds: [api.ENV_TIMEOUT_SECONDS, Number],
  concurrency: [api.ENV_CONCURRENCY, parseInteger],
  port: [api.ENV_PORT, parseInteger],
  adminPort: [api.ENV_ADMIN_PORT, parseInteger],
  maxBodyBytes: [api.ENV_MAX_BODY_BYTES, parseInteger],
  terminationLog: [api.ENV_TERMINATION_LOG, String],
  mode: [api.ENV_MODE, String],
  specializeTokenSHA256: [api.ENV_SPECIALIZE_TOKEN_SHA256, String],
  packageURL: [api.ENV_PACKAGE_URL, String],
  packageTicket: [api.ENV_PACKAGE_TICKET, String],
  packageDigest: [api.ENV_PACKAGE_DIGEST, String],
  packageModule: [api.ENV_PACKAGE_MODULE, String],
  packageDir: [api.ENV_PACKAGE_DIR, String],
});

function parseInteger(raw) {
  return /^[+-]?[0-9]+$/.test(raw.trim()) ? Number.parseInt(raw, 10) : NaN;
}

// fromEnv builds the settings from FAAS_* variables; unset or empty ones
// keep their defaults. Throws naming a variable that does not parse.
function fromEnv(env = process.env) {
  const c = { ...DEFAULTS };
  const read = (key, name, kind) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return;
    const v = kind(raw);
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new Error(`${name}=${JSON.stringify(raw)} is not a valid number`);
    }
    c[key] = v;
  };
  for (const [key, [name, kind]] of Object.entries(PLATFORM_ENV)) read(key, name, kind);
  for (const [key, name] of Object.entries(LOCAL_ENV)) read(key, name, key === 'host' ? String : Number);
  c.concurrency = Math.max(1, c.concurrency);
  c.maxConnections = Math.max(1, c.maxConnections);
  c.adminMaxConnections = Math.max(1, c.adminMaxConnections);
  return c;
}

// validate throws for a setting the runner cannot serve with.
function validate(c) {
  if (!api.MODES.includes(c.mode)) {
    throw new Error(`${api.ENV_MODE}=${JSON.stringify(c.mode)} is not one of ${api.MODES.join(', ')}`);
  }
  for (const k of ['timeoutSeconds', 'headerTimeoutSeconds', 'bodyTimeoutSeconds', 'idleTimeoutSeconds', 'sendTimeoutSeconds']) {
    if (!(c[k] > 0)) throw new Error(`${k} must be positive`);
  }
  if (c.maxHeaderBytes < c.maxRequestLineBytes) {
    throw new Error('maxHeaderBytes must be at least maxRequestLineBytes');
  }
  return c;
}

module.exports = { DEFAULTS, LOCAL_ENV, PLATFORM_ENV, fromEnv, validate };
