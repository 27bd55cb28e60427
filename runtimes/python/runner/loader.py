"""Turns a function's source into the callable that answers calls."""

import importlib.util
import logging
import marshal
import sys
import traceback
import types

log = logging.getLogger("runner")

#: What bytecode compiled here is valid for: the interpreter's magic number
#: (the bytecode format), its cache tag (implementation and version) and
#: the optimization level compile() applies. Bytecode with another tag is
#: never loaded.
BYTECODE_TAG = f"{importlib.util.MAGIC_NUMBER.hex()}-{sys.implementation.cache_tag}-O{sys.flags.optimize}"

FILENAME = "function.py"


class LoadError(Exception):
    """The code cannot be served; str(err) says why, for the user."""


def compile_source(source, filename=FILENAME):
    """Compiles source to a module's code object; runs none of it. Raises
    LoadError for a syntax error, with its line."""
    try:
        return compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as err:
        raise _error(f"{type(err).__name__}: {err.msg} ({filename}, line {err.lineno})") from err
    except (ValueError, RecursionError, MemoryError) as err:  # a NUL in the source, nesting too deep
        raise _error(f"{filename} cannot be compiled: {type(err).__name__}: {err}") from err


def code_from_bytecode(bytecode, filename=FILENAME):
    """The code object in bytecode (marshal.dumps of compile_source's), or
    None when it holds none: such bytecode is never trusted further."""
    try:
        code = marshal.loads(bytecode)
    except (ValueError, EOFError, TypeError) as err:
        log.warning("Bytecode does not load (%s); compiling the source", err)
        return None
    if not isinstance(code, types.CodeType) or code.co_filename != filename:
        log.warning("Bytecode holds no module code of %s; compiling the source", filename)
        return None
    return code


def load_handler(source, handler_name, filename=FILENAME, bytecode=None):
    """Compiles and runs source as a module and returns its handler. With
    bytecode (compiled from source by compile_source, in a process with the
    same BYTECODE_TAG), it runs that instead of compiling: the source is
    still the module's, for tracebacks, and compiled if bytecode holds no
    code.

    Raises LoadError with a one-line reason a user can act on: a syntax
    error with its line, an exception raised at import, or a missing or
    non-callable handler. The full traceback is kept on the error's
    ``detail`` for the log.
    """
    module = types.ModuleType("function")
    module.__file__ = filename
    code = code_from_bytecode(bytecode, filename) if bytecode is not None else None
    if code is None:
        code = compile_source(source, filename)
    try:
        exec(code, module.__dict__)  # noqa: S102 - running the user's code is the point
    except (Exception, SystemExit) as err:  # pylint: disable=broad-except
        raise _error(f"{filename} raised {type(err).__name__} while loading: {err}") from err
    handler = getattr(module, handler_name, None)
    if handler is None:
        raise _error(f"handler {handler_name!r} is not defined in {filename}")
    if not callable(handler):
        raise _error(f"handler {handler_name!r} in {filename} is not callable")
    return handler


def _error(message):
    err = LoadError(message)
    err.detail = traceback.format_exc()
    return err
