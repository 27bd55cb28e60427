"""Turns a function's source into the callable that answers calls."""

import traceback
import types

from . import pyc as pycfile


class LoadError(Exception):
    """The code cannot be served; str(err) says why, for the user."""


class FetchError(Exception):
    """The function's package could not be got: its fetcher unreachable,
    too slow, answering 5xx or 429, or its answer cut short. Not a
    LoadError: it says nothing about the code, and trying again (later, or
    in another pod) may work. str(err) says why, for the operator."""


def load_handler(source, handler_name, filename=pycfile.FILENAME, code=None):
    """Compiles and runs source as a module and returns its handler; code,
    when given, is source already compiled (pyc.loads) and is run instead.

    Raises LoadError with a one-line reason a user can act on: a syntax
    error with its line, an exception raised at import, or a missing or
    non-callable handler. The full traceback is kept on the error's
    ``detail`` for the log.
    """
    module = types.ModuleType("function")
    module.__file__ = filename
    try:
        if code is None:
            code = compile(source, filename, "exec")
    except SyntaxError as err:
        raise _error(f"{type(err).__name__}: {err.msg} ({filename}, line {err.lineno})") from err
    except (ValueError, RecursionError, MemoryError) as err:  # a NUL in the source, nesting too deep
        raise _error(f"{filename} cannot be compiled: {type(err).__name__}: {err}") from err
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
