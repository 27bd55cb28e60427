"""The compiled form of a function's inline code, as the compiler makes it
and the loader takes it: a hash-based, checked .pyc (PEP 552) of the
source compiled exactly as loader.load_handler compiles it.

A .pyc is used only when it was made for the very source the pod was sent
(the SipHash in its header, importlib.util.source_hash), by an interpreter
with this one's magic number, and this interpreter compiles with optimize
0; anything else is ignored and the source compiled as without it.
"""

import importlib.util
import marshal
import sys
import types

FILENAME = "function.py"
_FLAGS = (0b11).to_bytes(4, "little")  # hash-based, check the source
_HEADER = 16


def compile_source(source):
    """Compiles source (str) as the loader does; raises what compile raises."""
    return compile(source, FILENAME, "exec", dont_inherit=True, optimize=0)


def dumps(source, code):
    """The .pyc of code, compiled from source (str)."""
    return (importlib.util.MAGIC_NUMBER + _FLAGS + importlib.util.source_hash(source.encode("utf-8"))
            + marshal.dumps(code))


def loads(source, pyc):
    """The code object of pyc if it was made for source by an interpreter
    like this one, else None. Never raises for a bad pyc."""
    if not pyc or len(pyc) <= _HEADER or sys.flags.optimize != 0:
        return None
    if pyc[:4] != importlib.util.MAGIC_NUMBER or pyc[4:8] != _FLAGS:
        return None
    try:
        if pyc[8:16] != importlib.util.source_hash(source.encode("utf-8")):
            return None
        code = marshal.loads(memoryview(pyc)[_HEADER:])
    except Exception:  # pylint: disable=broad-except
        # Not only ValueError, EOFError and TypeError: a damaged code object
        # raises SystemError ("bad argument to internal function", "non-string
        # found in code slot": 8% of 30,000 random corruptions of a 4 KiB
        # source's .pyc), and the loader thread would take any exception for
        # the module's own and spend the pod (422). A .pyc only ever saves time.
        return None
    if not isinstance(code, types.CodeType) or code.co_filename != FILENAME:
        return None
    return code
