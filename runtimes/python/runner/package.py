"""Function packages: fetched from the node's fetcher, unpacked, imported.

A package is an uncompressed tar the fetcher answers to a GET of its URL
with the function's ticket: the function's folder under code/ and what its
requirements installed under deps/. The runner streams the answer straight
into its package directory (no copy of the archive anywhere), puts code/
then deps/ first on sys.path and imports the package's module.

The fetcher is trusted, and its archive is still handled as hostile: only
regular files and directories with canonical relative names under code/ or
deps/, each once, no links, devices or FIFOs, no absolute or ".." names,
at most Settings.max_bytes of files and Settings.max_entries entries, the
whole fetch within Settings.timeout_seconds. Files are created with
O_EXCL|O_NOFOLLOW in a directory the runner emptied first and in which it
creates nothing but directories and regular files, so no name can lead out
of it. Modes are reduced to 0644/0755; owners and times are not restored.

Failures are of two kinds. A fetcher that cannot be reached, does not
answer in time, answers 5xx or 429, or whose answer ends before its
Content-Length is a FetchError: it says nothing about the package, and a
deployment-mode runner tries again a few times (Settings.fetch_attempts)
within Settings.timeout_seconds before it exits
runnerapi.FETCH_FAILED_EXIT_CODE; a pool pod answers 503. Any other answer
of the fetcher (401, 403, 404, 422, ...), an archive that is refused and a
module that does not import are a PackageError, a load failure.

Speed (README.md, Measured: 2.5-3 times tarfile's extractall): tarfile
parses the headers, but reads them from Body, a forward-only reader over
the HTTP answer, in mode "r" rather than "r|": the stream mode's _Stream
re-copies its whole read-ahead buffer on every read, and its file objects
read data through it in its buffer's steps. Body hands tarfile the 512-byte
headers it asks for and writes file data to the file straight from the
bytes the socket returned, without tarfile's per-member extraction
(realpath, chmod, utime). Headers of the usual kind are parsed by _TarInfo
in a quarter of tarfile's time.
"""

import dataclasses
import errno
import http.client
import importlib
import json
import logging
import os
import posixpath
import shutil
import site
import socket
import sys
import tarfile
import time
import traceback
import urllib.parse

from . import runnerapi as api
from .loader import FetchError, LoadError

log = logging.getLogger("runner")

#: The most one read of the answer returns (what has arrived, up to this):
#: 1 MiB measured 10-25% faster than 256 KiB and as fast as 4 MiB.
BUFFER_BYTES = 1 << 20
#: The largest single read tarfile may ask for: a header, or the payload of
#: a PAX or GNU long-name header. A larger one is refused, not buffered.
MAX_HEADER_BYTES = 1 << 20
#: Tar overhead per entry the stream may carry beyond the files' bytes: its
#: header, a PAX header for a long name, padding to 512 bytes.
_OVERHEAD_PER_ENTRY = 3 * tarfile.BLOCKSIZE
#: Only these member types are unpacked; tarfile's isreg() also admits
#: contiguous and sparse files.
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE)
_TOP_DIRS = (api.PACKAGE_CODE_DIR, api.PACKAGE_DEPS_DIR)
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: How much of a fetcher's error answer is read for its message.
_MAX_ERROR_BODY = 64 << 10
_BLOCK_OF_ZEROS = bytes(tarfile.BLOCKSIZE)


class PackageError(LoadError):
    """The package is refused, cannot be unpacked or does not load, or the
    fetcher refused it (4xx): a load failure."""


def transient_status(status):
    """Whether a fetcher's answer of status says nothing about the package:
    the fetcher (or the registry behind it) failing or overloaded."""
    return status >= 500 or status == 429


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a function's package is: runnerapi.PackageSource."""

    url: str
    ticket: str = dataclasses.field(default="", repr=False)
    digest: str = ""
    module: str = api.DEFAULT_PACKAGE_MODULE

    @property
    def name(self):
        """The package's name in messages: its digest, else its URL."""
        return self.digest or self.url


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where and within which bounds a runner unpacks its package."""

    dir: str = api.DEFAULT_PACKAGE_DIR
    #: The whole fetch and unpack, from connect to the last file written.
    timeout_seconds: float = 60.0
    #: Bytes of regular files, and files plus directories, in one package.
    max_bytes: int = 100 << 20
    max_entries: int = 50_000
    #: Tries of a fetch that fails with a FetchError, all within
    #: timeout_seconds; 1 in a pool pod, which answers 503 at once so that
    #: the gateway can try another pod in time.
    fetch_attempts: int = 1
    #: The wait before the second try, doubled before each later one.
    retry_backoff_seconds: float = 0.5


@dataclasses.dataclass
class Unpacked:
    """What an unpack wrote."""

    files: int = 0
    dirs: int = 0
    bytes: int = 0


def load(source, handler_name, settings):
    """Fetches, unpacks and imports source's module; returns its handler.

    Raises LoadError (PackageError for the package itself) with a reason a
    user can act on, or FetchError when the package could not be got (see
    fetch). Each fetch empties settings.dir first: a container that
    restarts in its pod finds the last one's files in it.
    """
    module_name = source.module or api.DEFAULT_PACKAGE_MODULE
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise PackageError(f"package module {module_name!r} is not a dotted Python module name")
    root = os.path.abspath(settings.dir)
    started = time.perf_counter()
    unpacked = fetch(source, root, settings)
    fetched = time.perf_counter()
    code_dir = os.path.join(root, api.PACKAGE_CODE_DIR)
    deps_dir = os.path.join(root, api.PACKAGE_DEPS_DIR)
    if not os.path.isdir(code_dir):
        raise PackageError(f"package {source.name} has no {api.PACKAGE_CODE_DIR}/ directory")
    if os.path.isdir(deps_dir):
        sys.path.insert(0, deps_dir)
        # Its .pth files, as pip would have them read in site-packages
        # (namespace packages, path hooks); deps_dir stays first.
        site.addsitedir(deps_dir)
    sys.path.insert(0, code_dir)  # the function's own modules win over its dependencies
    importlib.invalidate_caches()
    handler = _import_handler(module_name, handler_name, root, source)
    _log_loaded(source.name, module_name, unpacked, fetched - started, time.perf_counter() - fetched)
    return handler


def fetch(source, dest, settings):
    """GETs source and unpacks the answer into dest, emptied first; returns
    what it wrote. A FetchError is tried again up to settings.fetch_attempts
    times in all, waiting settings.retry_backoff_seconds (doubled each time)
    between tries, while settings.timeout_seconds since the first allows.
    Raises PackageError, or the last FetchError."""
    started = time.monotonic()
    deadline = started + settings.timeout_seconds
    attempts = max(1, settings.fetch_attempts)
    backoff = settings.retry_backoff_seconds
    for attempt in range(1, attempts + 1):
        try:
            return _fetch_once(source, dest, settings, deadline)
        except FetchError as err:
            if attempt == attempts or deadline - time.monotonic() <= backoff:
                if attempt == 1:
                    raise
                raise FetchError(f"{err} (tried {attempt} times in {time.monotonic() - started:.1f} s)") from err
            log.warning("%s; trying again in %g s (try %d of %d)", err, backoff, attempt + 1, attempts)
        time.sleep(backoff)
        backoff *= 2
    raise AssertionError("unreachable")  # the loop returns or raises


def _fetch_once(source, dest, settings, deadline):
    """One GET of source, unpacked into dest, emptied first, by deadline
    (time.monotonic). Raises PackageError or FetchError."""
    what = f"fetching package {source.name} failed"
    try:
        url = urllib.parse.urlsplit(source.url)
        port = url.port or 80
    except ValueError:  # a port that is not a number, a bad IPv6 literal
        url = port = None
    if url is None or url.scheme != "http" or not url.hostname:
        raise PackageError(f"{what}: {source.url!r} is not an http://host:port/ URL")
    try:
        started = time.perf_counter()
        if _empty(dest):
            log.info("Removed what an earlier start left in %s in %.1f ms", dest,
                     (time.perf_counter() - started) * 1000)
    except OSError as err:
        raise PackageError(f"cannot prepare the package directory {dest}: {err}") from err
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError(f"{what}: not done within {settings.timeout_seconds:g} s")
    conn = http.client.HTTPConnection(url.hostname, port, timeout=remaining)
    try:
        try:
            conn.connect()
            sock = conn.sock  # the response's reads time out through it; getresponse may drop conn.sock
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.request("GET", url.path + (f"?{url.query}" if url.query else ""), headers={
                "Authorization": api.AUTHORIZATION_SCHEME + source.ticket, "Accept": api.PACKAGE_MEDIA_TYPE})
            resp = conn.getresponse()
            if resp.status != 200:
                message = f"{what}: {resp.status} {_error_text(resp)}"
                if transient_status(resp.status):
                    raise FetchError(message)
                # 401, 403: no ticket for this package; 404: the artifact
                # is gone; 422: the fetcher refused the artifact.
                raise PackageError(message)
            media_type = (resp.getheader("Content-Type") or "").partition(";")[0].strip().lower()
            if media_type != api.PACKAGE_MEDIA_TYPE:
                raise PackageError(f"{what}: the fetcher answered {media_type or 'no Content-Type'}, "
                                   f"not {api.PACKAGE_MEDIA_TYPE}")
            limit = settings.max_bytes + settings.max_entries * _OVERHEAD_PER_ENTRY + 2 * tarfile.RECORDSIZE
            return unpack(Body(resp, sock, deadline, limit), dest, settings)
        except (socket.timeout, TimeoutError) as err:
            raise FetchError(f"{what}: not done within {settings.timeout_seconds:g} s") from err
        except CutShort as err:
            raise FetchError(f"{what}: {url.netloc}: {err}") from err
        except (OSError, http.client.HTTPException) as err:
            # Connecting, sending, or the answer broken off: the network or
            # the fetcher, not the package. Files the unpack could not
            # write are UnpackError, not OSError.
            raise FetchError(f"{what}: {url.netloc}: {type(err).__name__}: {err}") from err
        except UnsafePackage as err:
            raise PackageError(f"package {source.name} refused: {err}") from err
        except UnpackError as err:
            raise PackageError(f"unpacking package {source.name} into {dest} failed: {err}") from err
    finally:
        conn.close()


class UnsafePackage(Exception):
    """The archive is not a package this runner unpacks."""


class UnpackError(Exception):
    """Writing the package directory failed: no space left, say."""


class CutShort(Exception):
    """The fetcher's answer ended before the length it announced: the
    connection broke, which says nothing about the package."""


class Body:
    """The fetcher's answer as a forward-only file for tarfile: read, tell
    and seek forward; copy_to writes file data to a file descriptor straight
    from what the socket returned. Enforces the deadline and a bound on the
    stream."""

    def __init__(self, resp, sock, deadline, limit, chunk_bytes=BUFFER_BYTES):
        self._resp = resp
        self._sock = sock
        self._deadline = deadline
        self._limit = limit  # stream bytes past which the answer is refused
        self._chunk_bytes = chunk_bytes
        self._view = memoryview(b"")  # the last chunk that arrived; unread: _view[_start:]
        self._start = 0
        self._pos = 0  # stream offset of _view[_start]
        self.last_read = b""  # what tarfile read last: the end-of-archive block, at the end

    def _fill(self):
        """Replaces the (consumed) chunk with what arrives next; returns its
        size, 0 at the end of the answer.

        HTTPResponse.read1 returns what is there, from one recv at most:
        readinto would wait for a whole buffer, keeping a header that has
        arrived from being checked, and BufferedReader.readinto1 with a
        buffer larger than its own blocks on a second read when some of the
        body came with the head. The bytes object read1 makes is the
        buffer: file data goes from it to os.write without another copy."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline")
        self._sock.settimeout(remaining)
        data = self._resp.read1(self._chunk_bytes)
        if not data and self._resp.length:
            # http.client returns b"" when the connection closes early
            # (a chunked answer raises IncompleteRead instead).
            raise CutShort(f"the answer ended {self._resp.length} bytes short of its Content-Length")
        if self._pos + len(data) > self._limit:
            raise UnsafePackage(f"more than {self._limit} bytes of archive")
        self._view = memoryview(data)
        self._start = 0
        return len(data)

    def read(self, size=-1):
        if size is None or size < 0 or size > MAX_HEADER_BYTES:
            raise UnsafePackage(f"a tar header of more than {MAX_HEADER_BYTES} bytes")
        if len(self._view) - self._start >= size:  # the common case: a header within the chunk
            data = bytes(self._view[self._start:self._start + size])
            self._start += size
        else:
            parts = []
            want = size
            while want and (self._start < len(self._view) or self._fill()):
                n = min(want, len(self._view) - self._start)
                parts.append(bytes(self._view[self._start:self._start + n]))
                self._start += n
                want -= n
            data = b"".join(parts)
        self._pos += len(data)
        self.last_read = data
        return data

    def tell(self):
        return self._pos

    def seek(self, pos, whence=0):
        if whence != 0 or pos < self._pos:
            raise tarfile.ReadError("the package archive can only be read forward")
        skip = pos - self._pos
        while skip:
            if self._start == len(self._view) and not self._fill():
                raise tarfile.ReadError("unexpected end of data")
            n = min(skip, len(self._view) - self._start)
            self._start += n
            self._pos += n
            skip -= n
        return self._pos

    def copy_to(self, fd, size):
        """Writes the next size bytes of the stream to fd."""
        while size:
            if self._start == len(self._view) and not self._fill():
                raise UnsafePackage("the archive ends inside a file")
            n = min(size, len(self._view) - self._start)
            chunk = self._view[self._start:self._start + n]
            try:
                while chunk:
                    chunk = chunk[os.write(fd, chunk):]
            except OSError as err:
                raise UnpackError(err.strerror or str(err)) from err
            self._start += n
            self._pos += n
            size -= n


class _TarInfo(tarfile.TarInfo):
    """tarfile's TarInfo with a fast path for the one header a package is
    made of: POSIX ustar ("ustar\\x0000"), a regular file or a directory,
    its numbers in octal digits, its checksum right. tarfile.TarInfo.frombuf
    takes 8.5 us a header, this 2 us (a third of the unpack of 2,000 small
    files). Every other header (PAX, GNU, base-256 numbers, other types,
    a bad checksum, the end-of-archive block) is tarfile's to parse or
    refuse, and the fields it yields are the same as tarfile's for the
    ones the runner uses: name, type, mode, size (tests/test_package.py).
    Owners, times and link names are not read: the runner does not restore
    them, and refuses links."""

    __slots__ = ()

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        if (len(buf) != tarfile.BLOCKSIZE or buf[257:265] != b"ustar\x0000" or buf[156:157] not in _FAST_TYPES
                or buf[100] & 0x80 or buf[124] & 0x80):
            return super().frombuf(buf, encoding, errors)
        try:
            chksum = int(buf[148:156].partition(b"\0")[0] or b"0", 8)
            mode = int(buf[100:108].partition(b"\0")[0] or b"0", 8)
            size = int(buf[124:136].partition(b"\0")[0] or b"0", 8)
        except ValueError:
            return super().frombuf(buf, encoding, errors)
        if chksum != sum(buf) - sum(buf[148:156]) + 256:  # 256: the checksum field counted as 8 spaces
            return super().frombuf(buf, encoding, errors)  # or a signed sum, which tarfile also takes
        obj = cls()
        name = buf[0:100].partition(b"\0")[0].decode(encoding, errors)
        prefix = buf[345:500].partition(b"\0")[0].decode(encoding, errors)
        obj.mode, obj.size, obj.chksum, obj.type = mode, size, chksum, buf[156:157]
        if obj.type == tarfile.AREGTYPE and name.endswith("/"):
            obj.type = tarfile.DIRTYPE  # a directory, in the old V7 way
        if obj.type == tarfile.DIRTYPE:
            name = name.rstrip("/")
        obj.name = f"{prefix}/{name}" if prefix else name
        return obj


_FAST_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE)


def unpack(body, dest, settings):
    """Extracts the tar read from body (a Body, or any forward reader with
    read, tell, seek and copy_to) into dest, an empty directory; returns
    what it wrote. Raises UnsafePackage for an archive it refuses,
    UnpackError when dest cannot be written, and what body raises."""
    out = Unpacked()
    made = set()  # directories under dest that exist: made here, as entries or parents
    seen = set()  # entry names, each allowed once
    try:
        tar = tarfile.TarFile(fileobj=body, mode="r", tarinfo=_TarInfo)
        while True:
            member = tar.next()
            tar.members.clear()  # tarfile keeps every member it read; 50,000 of them would be ~25 MB
            if member is None:
                break
            name = _check_member(member, seen)
            entries = out.files + out.dirs + 1
            if entries > settings.max_entries:
                raise UnsafePackage(f"more than {settings.max_entries} entries")
            if member.type == tarfile.DIRTYPE:
                out.dirs += 1
                if name not in made:
                    _make_dirs(dest, name, made)
                continue
            if member.size > settings.max_bytes - out.bytes:
                raise UnsafePackage(f"{name!r}: more than {settings.max_bytes} bytes of files")
            out.files += 1
            out.bytes += member.size
            parent = name.rpartition("/")[0]
            if parent not in made:
                _make_dirs(dest, parent, made)
            if body.tell() != member.offset_data:
                raise UnsafePackage(f"{name!r}: its data is not where its header says")
            try:
                fd = os.open(f"{dest}/{name}", _OPEN_FLAGS, 0o755 if member.mode & 0o111 else 0o644)
            except OSError as err:
                raise _write_error(name, err) from err
            try:
                body.copy_to(fd, member.size)
            except UnpackError as err:
                raise UnpackError(f"{name!r}: {err}") from err
            finally:
                os.close(fd)
    except (tarfile.TarError, RecursionError, ValueError) as err:  # and what malformed extended headers raise
        raise UnsafePackage(f"not a valid tar archive: {err}") from err
    # tarfile ends the archive at the first header it cannot read, not only
    # at the end-of-archive block: an answer cut short between two entries
    # would pass for a smaller package.
    if body.last_read != _BLOCK_OF_ZEROS:
        raise UnsafePackage("the archive ends without its end-of-archive block")
    return out


def _check_member(member, seen):
    """The member's name, if it may be unpacked; UnsafePackage otherwise."""
    name = member.name
    if member.type not in _FILE_TYPES and member.type != tarfile.DIRTYPE:
        kind = {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link", tarfile.CHRTYPE: "a device",
                tarfile.BLKTYPE: "a device", tarfile.FIFOTYPE: "a FIFO"}.get(member.type, f"of type {member.type!r}")
        raise UnsafePackage(f"{name!r} is {kind}: only regular files and directories")
    if member.sparse is not None:
        raise UnsafePackage(f"{name!r} is a sparse file: only regular files and directories")
    if (not name or "\0" in name or name.startswith("/") or name == ".." or name.startswith("../")
            or posixpath.normpath(name) != name):
        raise UnsafePackage(f"{name!r} is not a canonical relative name")
    top, sep, _ = name.partition("/")
    if top not in _TOP_DIRS or not sep and member.type != tarfile.DIRTYPE:
        raise UnsafePackage(f"{name!r} is outside {api.PACKAGE_CODE_DIR}/ and {api.PACKAGE_DEPS_DIR}/")
    if member.type == tarfile.DIRTYPE and member.size:
        raise UnsafePackage(f"{name!r} is a directory with data")
    if name in seen:
        raise UnsafePackage(f"{name!r} is in the archive twice")
    seen.add(name)
    return name


def _make_dirs(dest, name, made):
    try:
        os.makedirs(f"{dest}/{name}", 0o755, exist_ok=True)
    except OSError as err:
        raise _write_error(name, err) from err
    while name and name not in made:
        made.add(name)
        name = name.rpartition("/")[0]


def _write_error(name, err):
    """UnsafePackage for an entry that collides with one before it (a file
    where a directory is, or the reverse); UnpackError otherwise."""
    if err.errno in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
        return UnsafePackage(f"{name!r} collides with an entry before it: {err.strerror}")
    return UnpackError(f"{name!r}: {err.strerror or err}")


def _empty(path):
    """Makes path an empty directory, removing what it holds (without
    following links); returns whether it held anything."""
    os.makedirs(path, exist_ok=True)
    held = False
    with os.scandir(path) as entries:
        for entry in entries:
            held = True
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
    return held


def _error_text(resp):
    """The message of a fetcher's error answer: {"error", "status"}, or the
    start of whatever else it sent."""
    raw = resp.read(_MAX_ERROR_BODY)
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get(api.ERROR_ERROR), str):
        return body[api.ERROR_ERROR]
    text = raw.decode("utf-8", "replace").strip()
    return (text[:200] + "...") if len(text) > 200 else text or resp.reason


def _import_handler(module_name, handler_name, root, source):
    """Imports module_name from the unpacked package; returns its handler."""
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as err:
        raise _load_error(f"{type(err).__name__}: {err.msg} ({_rel(err.filename, root)}, line {err.lineno})",
                          err, root) from err
    except ModuleNotFoundError as err:
        if (err.name == module_name or module_name.startswith(f"{err.name}.")) and not _user_frames(err, root):
            path = module_name.replace(".", "/")
            raise _load_error(f"package {source.name} has no module {module_name!r}: no {path}.py or "
                              f"{path}/__init__.py in its {api.PACKAGE_CODE_DIR}/", err, root) from err
        raise _load_error(f"module {module_name!r} raised {type(err).__name__} while loading: {err}",
                          err, root) from err
    except (Exception, SystemExit) as err:  # pylint: disable=broad-except
        raise _load_error(f"module {module_name!r} raised {type(err).__name__} while loading: {err}",
                          err, root) from err
    where = getattr(module, "__file__", None)
    if where is None or not os.path.abspath(where).startswith(root + os.sep):
        raise _load_error(f"module {module_name!r} is not the package's ({where or 'built in'}): the runner "
                          f"imported a module of that name before the package; rename it", None, root)
    handler = getattr(module, handler_name, None)
    where = _rel(where, root)
    if handler is None:
        raise _load_error(f"handler {handler_name!r} is not defined in {where}", None, root)
    if not callable(handler):
        raise _load_error(f"handler {handler_name!r} in {where} is not callable", None, root)
    return handler


def _rel(path, root):
    """A package file's name as its author knows it: relative to code/, or
    deps/... for a dependency."""
    if not path:
        return "?"
    path = os.path.abspath(path)
    if not path.startswith(root + os.sep):
        return path
    rel = path[len(root) + 1:]
    code = api.PACKAGE_CODE_DIR + os.sep
    return rel[len(code):] if rel.startswith(code) else rel


def _user_frames(err, root):
    return [f for f in traceback.extract_tb(err.__traceback__) if os.path.abspath(f.filename).startswith(root + os.sep)]


def _load_error(reason, err, root):
    """LoadError with reason, then the traceback's frames in the package's
    files (not the runner's or importlib's): where the user's code failed."""
    lines = [reason]
    if err is not None:
        for frame in _user_frames(err, root)[-8:]:
            lines.append(f'  File "{_rel(frame.filename, root)}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {frame.line}")
    failure = PackageError("\n".join(lines))
    failure.detail = traceback.format_exc() if err is not None else ""
    return failure


def _log_loaded(name, module_name, unpacked, fetch_seconds, import_seconds):
    log.info("Package %s: %d files, %d directories, %.1f MiB fetched and unpacked in %.1f ms; "
             "module %s imported in %.1f ms", name, unpacked.files, unpacked.dirs, unpacked.bytes / (1 << 20),
             fetch_seconds * 1000, module_name, import_seconds * 1000)
