'use strict';
// Turns a function's source into the function that answers calls: the
// source is compiled as a CommonJS module (vm.compileFunction with the
// module wrapper's parameters and a real require), with a filename so that
// stack traces and load errors name the user's file and line.

const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

// The code cannot be served; message says why, for the user, with file and
// line where there is one; detail keeps the stack for the log.
class LoadError extends Error {
  constructor(message, detail = '') {
    super(message);
    this.name = 'LoadError';
    this.detail = detail;
  }
}

// Why a function package (deployment mode's FAAS_PACKAGE_URL, or a pool
// specialization's package) is a load failure here: this runner loads
// inline code only, like the Function CRD, which refuses spec.package for
// nodejs.
const PACKAGES_UNSUPPORTED = 'function packages are supported for the python runtime only';

// loadHandler compiles and runs source as a module and returns its handler.
// filename is the absolute path the module is given (require resolves next
// to it); messages name its base name. The handler is the export named
// handlerName; for the default name, module.exports itself when it is a
// function with no such export.
function loadHandler(source, handlerName, filename, defaultHandler = 'handle') {
  const shown = path.basename(filename);
  let fn;
  try {
    fn = vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], {
      filename,
      importModuleDynamically: undefined,
    });
  } catch (err) {
    const line = syntaxErrorLine(err, filename);
    throw new LoadError(`${errName(err)}: ${err.message} (${shown}${line ? `, line ${line}` : ''})`, String(err.stack));
  }
  const mod = new Module(filename, null);
  mod.filename = filename;
  mod.paths = Module._nodeModulePaths(path.dirname(filename)); // eslint-disable-line no-underscore-dangle
  const req = Module.createRequire(filename);
  try {
    fn.call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename));
  } catch (err) {
    const line = frameLine(err, filename);
    const msg = err instanceof Error ? err.message : String(err);
    throw new LoadError(`${shown} raised ${errName(err)} while loading: ${msg}${line ? ` (${shown}, line ${line})` : ''}`,
      String(err && err.stack || err));
  }
  mod.loaded = true;
  const exported = mod.exports;
  let handler = exported !== null && (typeof exported === 'object' || typeof exported === 'function')
    ? exported[handlerName] : undefined;
  if (handler === undefined && handlerName === defaultHandler && typeof exported === 'function') {
    handler = exported;
  }
  if (handler === undefined) {
    throw new LoadError(`handler ${JSON.stringify(handlerName)} is not exported by ${shown}`);
  }
  if (typeof handler !== 'function') {
    throw new LoadError(`handler ${JSON.stringify(handlerName)} in ${shown} is not a function`);
  }
  return handler;
}

function errName(err) {
  return (err && typeof err.name === 'string' && err.name) || typeof err;
}

// A SyntaxError's stack starts "<filename>:<line>" followed by the line.
function syntaxErrorLine(err, filename) {
  const first = String(err && err.stack || '').split('\n', 1)[0];
  if (first.startsWith(`${filename}:`)) {
    const n = Number(first.slice(filename.length + 1));
    if (Number.isInteger(n)) return n;
  }
  return frameLine(err, filename);
}

// The line of the first stack frame in filename.
function frameLine(err, filename) {
  const stack = String(err && err.stack || '');
  const esc = filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`${esc}:(\\d+)(?::\\d+)?`).exec(stack);
  return m ? Number(m[1]) : null;
}

module.exports = { LoadError, PACKAGES_UNSUPPORTED, loadHandler };
