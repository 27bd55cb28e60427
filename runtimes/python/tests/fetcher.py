"""A fake of the node-local fetcher, tars to serve from it, and a sandbox
for tests that import packages in their own process.

FakeFetcher is an http.server on 127.0.0.1 that answers GET <path> with a
package's tar (Content-Type application/x-tar) to the right bearer ticket,
and {"error", "status"} otherwise, as the fetcher's contract says; it can
also fail as a fetcher does (a 502 while the registry is unreachable, an
answer broken off). Tars are
built with tarfile in the layout the fetcher sends: code/... and deps/...,
directories before what they hold, USTAR headers (PAX for long names).
"""

import hashlib
import http.server
import importlib
import io
import json
import sys
import tarfile
import threading
import time

from runner import runnerapi as api

TICKET = "dGlja2V0LWZvci10aGlzLXBhY2thZ2U"


class FakeFetcher:
    """Serves packages added with add(); closed by close()."""

    def __init__(self):
        self._packages = {}  # path -> dict(ticket, body, content_type, trickle_seconds, errors[, length])
        self.requests = []  # (path, headers) of every GET
        fetcher = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's name
                fetcher.requests.append((self.path, dict(self.headers)))
                pkg = fetcher._packages.get(self.path)
                if pkg is None:
                    return self._error(404, "no such package")
                failure = next(pkg["errors"], None)
                if failure is not None:
                    return self._error(*failure)
                if self.headers.get("Authorization") != api.AUTHORIZATION_SCHEME + pkg["ticket"]:
                    return self._error(401, "ticket refused")
                body = pkg["body"]
                self.send_response(200)
                self.send_header("Content-Type", pkg["content_type"])
                length = pkg.get("length", len(body))
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if length > len(body):
                    self.close_connection = True  # broken off: the rest never comes
                if pkg["trickle_seconds"]:  # a slow fetcher: 512 bytes at a time
                    for i in range(0, len(body), tarfile.BLOCKSIZE):
                        self.wfile.write(body[i:i + tarfile.BLOCKSIZE])
                        self.wfile.flush()
                        time.sleep(pkg["trickle_seconds"])
                    return
                self.wfile.write(body)

            def _error(self, status, message):
                body = json.dumps({"error": message, "status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # A runner that refuses a package hangs up mid-answer.
                if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), name="fake-fetcher",
                                        daemon=True)  # its poll interval bounds close()
        self._thread.start()

    def add(self, body, ticket=TICKET, module="handler", function="default/f", content_type=api.PACKAGE_MEDIA_TYPE,
            trickle_seconds=0, length=None, errors=()):
        """Serves body as a package; returns its PackageSource as JSON
        fields (url, ticket, digest, module). errors are (status, message)
        answers given to the first GETs, one each, before the package
        (itertools.repeat: to every GET). A length above len(body) is
        announced, then the connection is closed after body."""
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        path = f"{api.FETCH_PATH}{function}/{digest}"
        pkg = {"ticket": ticket, "body": body, "content_type": content_type, "trickle_seconds": trickle_seconds,
               "errors": iter(errors)}
        if length is not None:
            pkg["length"] = length
        self._packages[path] = pkg
        return {"url": f"http://127.0.0.1:{self.port}{path}", "ticket": ticket, "digest": digest, "module": module}

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def make_tar(files, dirs=True, fmt=tarfile.USTAR_FORMAT):
    """A package tar of files {name: bytes or str}; with dirs, a directory
    entry precedes every directory's first file, as the fetcher sends."""
    out = io.BytesIO()
    made = set()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name in sorted(files):
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if dirs and d not in made:
                    made.add(d)
                    tar.addfile(dir_info(d))
            data = files[name]
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def dir_info(name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def raw_tar(*members, end=True):
    """A tar of raw members: (TarInfo, data) pairs written header by
    header, whatever their names and types, with no check of its own."""
    out = io.BytesIO()
    for info, data in members:
        out.write(info.tobuf(tarfile.GNU_FORMAT if len(info.name) > 100 else tarfile.USTAR_FORMAT, "utf-8",
                             "surrogateescape"))
        if data:
            out.write(data)
            out.write(bytes(-len(data) % tarfile.BLOCKSIZE))
    if end:
        out.write(bytes(2 * tarfile.BLOCKSIZE))
    return out.getvalue()


def member(name, kind=tarfile.REGTYPE, data=b"", size=None, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if size is None else size
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.linkname = linkname
    return info, data


def sandbox(test):
    """Undoes, after test, what loading a package in the test's process
    does: sys.path, and the modules it imported."""
    path, modules = sys.path[:], set(sys.modules)

    def restore():
        sys.path[:] = path
        for name in set(sys.modules) - modules:
            del sys.modules[name]
        importlib.invalidate_caches()

    test.addCleanup(restore)


if __name__ == "__main__":
    sys.exit("a test helper; see tests/test_package.py")
