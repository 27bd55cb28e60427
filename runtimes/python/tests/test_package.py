"""Function packages: fetched from a fake fetcher, unpacked as hostile
archives, imported; in-process, in a pool pod, and in runner processes in
both modes."""

import hashlib
import http.client
import io
import itertools
import json
import os
import tarfile
import tempfile
import time
import unittest

from runner import package
from runner import runnerapi as api
from runner.config import Config
from runner.package import FetchError, PackageError, Settings, Source
from tests.fetcher import TICKET, FakeFetcher, make_tar, member, raw_tar, sandbox
from tests.support import RunnerProcess, RunnerTestCase, free_port

MULTI_MODULE = {
    "code/handler.py": '''
import os
import sys

import helpers                 # a sibling module
import thirdparty              # from deps/
import shadow                  # in code/ and deps/: code's wins
from app import util           # a package of the function's

with open(os.path.join(os.path.dirname(__file__), "data", "greeting.txt"), encoding="utf-8") as f:
    GREETING = f.read().strip()


def handle(req):
    with open("/proc/self/environ", "rb") as f:
        proc_environ = f.read().decode("latin-1")
    return {"greeting": GREETING, "helper": helpers.shout("hi"), "third": thirdparty.VERSION,
            "shadow": shadow.WHERE, "util": util.NAME, "file": __file__, "path": sys.path[:2],
            "os_environ": dict(os.environ), "proc_environ": proc_environ}
''',
    "code/helpers.py": "def shout(s):\n    return s.upper() + '!'\n",
    "code/shadow.py": "WHERE = 'code'\n",
    "code/app/__init__.py": "",
    "code/app/util.py": "NAME = 'app.util'\n",
    "code/data/greeting.txt": "hello from a package\n",
    "deps/thirdparty/__init__.py": "VERSION = '1.2.3'\n",
    "deps/shadow.py": "WHERE = 'deps'\n",
}


class PackageTestCase(unittest.TestCase):
    def setUp(self):
        self.fetcher = FakeFetcher()
        self.addCleanup(self.fetcher.close)
        tmp = tempfile.TemporaryDirectory(prefix="package-test-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.dir = os.path.join(tmp.name, "package")
        self.settings = Settings(dir=self.dir, timeout_seconds=5)
        sandbox(self)

    def fetch(self, body, settings=None, **add):
        return package.fetch(Source(**self.fetcher.add(body, **add)), self.dir, settings or self.settings)

    def refused(self, body, reason, settings=None, **add):
        """Asserts that the package is refused for reason and that nothing
        was written outside the package directory; returns the message."""
        with self.assertRaises(PackageError) as ctx:
            self.fetch(body, settings, **add)
        message = str(ctx.exception)
        self.assertIn(reason, message)
        self.assertEqual(os.listdir(self.tmp), ["package"])
        return message

    def load(self, files, module="handler", handler="handle", **add):
        return package.load(Source(**self.fetcher.add(make_tar(files), module=module, **add)), handler, self.settings)

    def load_error(self, files, module="handler", handler="handle"):
        with self.assertRaises(PackageError) as ctx:
            self.load(files, module, handler)
        return str(ctx.exception)

    def read(self, name):
        with open(os.path.join(self.dir, name), "rb") as f:
            return f.read()


class FetchTest(PackageTestCase):
    def test_unpacks_code_and_deps(self):
        body = raw_tar(member("code", tarfile.DIRTYPE), member("code/handler.py", data=b"x = 1\n"),
                       member("code/run.sh", data=b"#!/bin/sh\n"), member("deps", tarfile.DIRTYPE),
                       member("deps/lib/mod.py", data=b"y = 2\n"))
        got = self.fetch(body)
        self.assertEqual((got.files, got.dirs, got.bytes), (3, 2, 22))
        self.assertEqual(self.read("code/handler.py"), b"x = 1\n")
        self.assertEqual(self.read("deps/lib/mod.py"), b"y = 2\n")  # its directory made without an entry
        self.assertEqual(os.stat(os.path.join(self.dir, "code/handler.py")).st_mode & 0o777, 0o644)

    def test_file_modes_are_0644_or_0755(self):
        exe, setuid = member("code/run.sh", data=b"#!/bin/sh\n"), member("code/su", data=b"x")
        exe[0].mode, setuid[0].mode = 0o700, 0o4777
        self.fetch(raw_tar(exe, setuid))
        self.assertEqual(os.stat(os.path.join(self.dir, "code/run.sh")).st_mode & 0o7777, 0o755 & ~_umask())
        self.assertEqual(os.stat(os.path.join(self.dir, "code/su")).st_mode & 0o7777, 0o755 & ~_umask())

    def test_sends_the_ticket_as_a_bearer_token(self):
        self.fetch(make_tar({"code/handler.py": ""}))
        path, headers = self.fetcher.requests[-1]
        self.assertTrue(path.startswith(api.FETCH_PATH))
        self.assertEqual(headers["Authorization"], "Bearer " + TICKET)

    def test_long_names_in_pax_and_gnu_headers(self):
        name = "code/" + "/".join(["d" * 60] * 4) + "/m.py"  # 250 characters: beyond ustar's 100 + 155
        for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
            with self.subTest(fmt=fmt):
                self.fetch(make_tar({name: "z = 3\n"}, fmt=fmt))
                self.assertEqual(self.read(name), b"z = 3\n")

    def test_a_20_mb_package_of_2000_files(self):
        files = {f"code/d{i // 100:02d}/f{i:04d}.bin": bytes([i % 256]) * 10_000 for i in range(2000)}
        got = self.fetch(make_tar(files))
        self.assertEqual((got.files, got.bytes), (2000, 20_000_000))
        self.assertEqual(self.read("code/d19/f1999.bin"), bytes([1999 % 256]) * 10_000)

    def test_the_package_dir_is_emptied_first(self):
        # What a container that restarted in its pod finds: the last one's
        # files, and whatever its function made there, links included.
        outside = os.path.join(self.tmp, "outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "keep"), "w", encoding="utf-8") as f:
            f.write("keep")
        os.makedirs(os.path.join(self.dir, "code", "old"))
        with open(os.path.join(self.dir, "code", "old", "stale.py"), "w", encoding="utf-8"):
            pass
        os.symlink(outside, os.path.join(self.dir, "deps"))
        os.symlink(outside, os.path.join(self.dir, "code", "link"))
        self.fetch(make_tar({"code/handler.py": "", "deps/x.py": ""}))
        self.assertEqual(sorted(os.listdir(self.dir)), ["code", "deps"])
        self.assertEqual(os.listdir(os.path.join(self.dir, "code")), ["handler.py"])
        self.assertFalse(os.path.islink(os.path.join(self.dir, "deps")))
        self.assertEqual(os.listdir(outside), ["keep"])

    def test_a_refused_ticket_is_the_fetchers_message(self):
        fields = self.fetcher.add(make_tar({"code/handler.py": ""}), ticket="the-right-one")
        fields["ticket"] = "a-wrong-one"
        with self.assertRaises(PackageError) as ctx:
            package.fetch(Source(**fields), self.dir, self.settings)
        self.assertEqual(str(ctx.exception), f"fetching package {fields['digest']} failed: 401 ticket refused")

    def test_unknown_package(self):
        fields = self.fetcher.add(make_tar({"code/handler.py": ""}))
        fields["url"] += "0"
        with self.assertRaisesRegex(PackageError, "failed: 404 no such package"):
            package.fetch(Source(**fields), self.dir, self.settings)

    def test_an_answer_that_is_not_a_tar(self):
        self.refused(b"<html></html>", "the fetcher answered text/html, not application/x-tar",
                     content_type="text/html; charset=utf-8")

    def test_unreachable_fetcher(self):
        # Not a load failure: nothing is known of the package.
        source = Source(url=f"http://127.0.0.1:{free_port()}/v1/packages/default/f/sha256:00", digest="sha256:00")
        with self.assertRaisesRegex(FetchError, "fetching package sha256:00 failed: 127.0.0.1:[0-9]+: "
                                                "ConnectionRefusedError"):
            package.fetch(source, self.dir, self.settings)

    def test_only_http_urls(self):
        for url in ("https://127.0.0.1:8090/p", "file:///etc/passwd", "http:///p", "http://h:port/p", "127.0.0.1:1/p"):
            with self.subTest(url=url):
                with self.assertRaisesRegex(PackageError, "is not an http://host:port/ URL"):
                    package.fetch(Source(url=url), self.dir, self.settings)

    def test_the_whole_fetch_has_a_deadline(self):
        # The fetcher sends 512 bytes every 0.1 s, 2 s for the whole: no
        # read waits long, and the runner still gives up at its deadline.
        # A slow fetcher is no load failure, and is not tried again past
        # the deadline.
        settings = Settings(dir=self.dir, timeout_seconds=0.5, fetch_attempts=3, retry_backoff_seconds=0.01)
        started = time.monotonic()
        with self.assertRaisesRegex(FetchError, "not done within 0.5 s"):
            self.fetch(make_tar({"code/handler.py": "x" * 8192}), settings, trickle_seconds=0.1)
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertEqual(len(self.fetcher.requests), 1)

    def test_an_answer_cut_short(self):
        whole = make_tar({"code/a.py": "a" * 2000, "code/b.py": "b" * 2000})
        # Between two entries (code/, code/a.py and its data, then the end):
        # tarfile alone would take it for a smaller package.
        self.refused(whole[:2 * 512 + 2048], "the archive ends without its end-of-archive block")
        # Inside a file.
        self.refused(whole[:2 * 512 + 1000], "the archive ends inside a file")

    def test_not_a_tar(self):
        self.refused(b"", "not a valid tar archive")
        self.refused(b"x" * 2048, "not a valid tar archive")


class FetchFailureTest(PackageTestCase):
    """What says nothing about the package (the fetcher failing, busy or
    broken off) is a FetchError, tried again within the deadline; what is
    about it is a PackageError, a load failure, tried once."""

    BODY = make_tar({"code/handler.py": "def handle(req):\n    return 'ok'\n"})

    def settings_with(self, attempts, timeout=5):
        return Settings(dir=self.dir, timeout_seconds=timeout, fetch_attempts=attempts, retry_backoff_seconds=0.01)

    def test_a_5xx_or_429_is_a_fetch_error_and_4xx_a_package_error(self):
        cases = {500: FetchError, 502: FetchError, 503: FetchError, 504: FetchError, 429: FetchError,
                 400: PackageError, 401: PackageError, 403: PackageError, 404: PackageError, 422: PackageError}
        for status, kind in cases.items():
            with self.subTest(status=status):
                fields = self.fetcher.add(self.BODY, function=f"default/s{status}",
                                          errors=[(status, "registry unreachable")])
                with self.assertRaises(kind) as ctx:
                    package.fetch(Source(**fields), self.dir, self.settings)
                self.assertEqual(str(ctx.exception),
                                 f"fetching package {fields['digest']} failed: {status} registry unreachable")
                self.assertNotIsInstance(ctx.exception, PackageError if kind is FetchError else FetchError)

    def test_a_502_twice_then_the_package(self):
        with self.assertLogs("runner", level="WARNING") as logs:
            got = self.fetch(self.BODY, self.settings_with(3), errors=[(502, "registry unreachable")] * 2)
        self.assertEqual([r.getMessage().rpartition("; ")[2] for r in logs.records],
                         ["trying again in 0.01 s (try 2 of 3)", "trying again in 0.02 s (try 3 of 3)"])
        self.assertEqual(got.files, 1)
        self.assertEqual(len(self.fetcher.requests), 3)
        self.assertEqual(self.read("code/handler.py"), b"def handle(req):\n    return 'ok'\n")

    def test_always_502_gives_up_after_its_attempts(self):
        with self.assertRaises(FetchError) as ctx, self.assertLogs("runner", level="WARNING"):
            self.fetch(self.BODY, self.settings_with(3), errors=itertools.repeat((502, "registry unreachable")))
        self.assertRegex(str(ctx.exception), r"^fetching package sha256:[0-9a-f]{64} failed: 502 registry "
                                             r"unreachable \(tried 3 times in [0-9.]+ s\)$")
        self.assertEqual(len(self.fetcher.requests), 3)

    def test_tries_stop_at_the_deadline(self):
        settings = Settings(dir=self.dir, timeout_seconds=0.3, fetch_attempts=10, retry_backoff_seconds=0.1)
        started = time.monotonic()
        with self.assertRaises(FetchError), self.assertLogs("runner", level="WARNING"):
            self.fetch(self.BODY, settings, errors=itertools.repeat((503, "busy")))
        self.assertLess(time.monotonic() - started, 1)
        self.assertLess(len(self.fetcher.requests), 10)

    def test_a_package_error_is_not_tried_again(self):
        fields = self.fetcher.add(self.BODY)
        fields["url"] += "0"  # 404: the artifact is gone
        with self.assertRaisesRegex(PackageError, "failed: 404 no such package"):
            package.fetch(Source(**fields), self.dir, self.settings_with(3))
        with self.assertRaisesRegex(PackageError, "ticket refused"):
            package.fetch(Source(**dict(fields, url=fields["url"][:-1], ticket="not-it")), self.dir,
                          self.settings_with(3))
        self.assertEqual(len(self.fetcher.requests), 2)

    def test_an_answer_broken_off_before_its_length(self):
        # The fetcher went away mid-answer: not the package's fault, unlike
        # a whole answer that holds a truncated archive (test_an_answer_cut_short).
        whole = make_tar({"code/a.py": "a" * 20_000})
        with self.assertRaisesRegex(FetchError, "the answer ended [0-9]+ bytes short of its Content-Length"):
            self.fetch(whole[:4096], length=len(whole))
        self.assertEqual(os.listdir(self.tmp), ["package"])


class HostileArchiveTest(PackageTestCase):
    """Each archive is refused by its own check: the reason is asserted, so
    a test fails if the check it names is removed."""

    GOOD = member("code/handler.py", data=b"def handle(req):\n    return 1\n")

    def test_symbolic_link(self):
        self.refused(raw_tar(self.GOOD, member("code/link", tarfile.SYMTYPE, linkname="/etc")),
                     "'code/link' is a symbolic link: only regular files and directories")

    def test_hard_link(self):
        self.refused(raw_tar(self.GOOD, member("code/hard", tarfile.LNKTYPE, linkname="code/handler.py")),
                     "'code/hard' is a hard link")

    def test_devices_and_fifos(self):
        for kind, what in ((tarfile.CHRTYPE, "a device"), (tarfile.BLKTYPE, "a device"), (tarfile.FIFOTYPE, "a FIFO")):
            with self.subTest(kind=kind):
                self.refused(raw_tar(self.GOOD, member("code/dev", kind)), f"'code/dev' is {what}")

    def test_contiguous_and_sparse_files(self):
        # tarfile's isreg() takes both as regular files.
        for kind in (tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE):
            with self.subTest(kind=kind):
                self.refused(raw_tar(member("code/f", kind, data=b"x")), "only regular files and directories")

    def test_a_sparse_file_in_pax_headers(self):
        # A regular file by its type, whose data is a sparse map: its
        # stored bytes are not its content.
        info, data = member("code/sparse", data=b"x")
        info.pax_headers = {"GNU.sparse.map": "0,1", "GNU.sparse.size": "4096"}
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(info, io.BytesIO(data))
        self.refused(out.getvalue(), "'code/sparse' is a sparse file")

    def test_dot_dot(self):
        for name in ("code/../../escaped.py", "../escaped.py", "code/../escaped.py", ".."):
            with self.subTest(name=name):
                self.refused(raw_tar(self.GOOD, member(name, data=b"owned = True\n")),
                             f"{name!r} is not a canonical relative name")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "escaped.py")))

    def test_absolute_path(self):
        for name in ("/code/abs.py", "/tmp/abs.py", "//code/abs.py"):
            with self.subTest(name=name):
                self.refused(raw_tar(member(name, data=b"x")), f"{name!r} is not a canonical relative name")

    def test_names_not_in_canonical_form(self):
        for name in ("code/./x.py", "code//x.py", "./code/x.py", "code/x.py/"):
            with self.subTest(name=name):
                self.refused(raw_tar(member(name, data=b"x")), "is not a canonical relative name")

    def test_top_level_directory_other_than_code_and_deps(self):
        for name, kind in (("lib/x.py", tarfile.REGTYPE), ("lib", tarfile.DIRTYPE), ("handler.py", tarfile.REGTYPE),
                           ("code", tarfile.REGTYPE), ("codex/x.py", tarfile.REGTYPE)):
            with self.subTest(name=name):
                self.refused(raw_tar(self.GOOD, member(name, kind, data=b"" if kind == tarfile.DIRTYPE else b"x")),
                             f"{name!r} is outside code/ and deps/")

    def test_too_many_entries(self):
        settings = Settings(dir=self.dir, max_entries=5)
        files = {f"code/f{i}.py": "" for i in range(4)}  # with code/: 5 entries
        self.fetch(make_tar(files), settings)
        files["code/f4.py"] = ""
        self.refused(make_tar(files), "more than 5 entries", settings)

    def test_too_many_bytes(self):
        settings = Settings(dir=self.dir, max_bytes=4096)
        self.fetch(make_tar({"code/a": b"a" * 2096, "code/b": b"b" * 2000}), settings)
        self.refused(make_tar({"code/a": b"a" * 2096, "code/b": b"b" * 2001}),
                     "'code/b': more than 4096 bytes of files", settings)

    def test_a_file_over_100_mib_is_refused_at_its_header(self):
        # The header alone says it: nothing of it is read or written.
        size = Settings().max_bytes + 1
        body = raw_tar(member("code/huge.bin", size=size), end=False)
        self.refused(body, f"'code/huge.bin': more than {100 << 20} bytes of files", Settings(dir=self.dir),
                     length=size)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "code", "huge.bin")))

    def test_the_archive_is_bounded_too(self):
        # Extended headers count neither as entries nor as bytes of files:
        # the whole answer is bounded by what the limits allow.
        settings = Settings(dir=self.dir, max_bytes=4096, max_entries=2)
        info, data = member("code/handler.py", data=b"x")
        info.pax_headers = {"comment": "c" * (64 << 10)}
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(info, io.BytesIO(data))
        self.refused(out.getvalue(), "bytes of archive", settings)

    def test_an_entry_twice(self):
        self.refused(raw_tar(self.GOOD, self.GOOD), "'code/handler.py' is in the archive twice")
        self.refused(raw_tar(member("code/d", tarfile.DIRTYPE), member("code/d", tarfile.DIRTYPE)), "twice")

    def test_a_file_where_a_directory_is(self):
        self.refused(raw_tar(member("code/d/x.py", data=b"x"), member("code/d", data=b"x")),
                     "'code/d' collides with an entry before it")
        self.refused(raw_tar(member("code/f", data=b"x"), member("code/f/x.py", data=b"x")),
                     "'code/f' collides with an entry before it")

    def test_a_directory_with_data(self):
        self.refused(raw_tar(member("code/d", tarfile.DIRTYPE, data=b"x" * 10)), "'code/d' is a directory with data")

    def test_a_huge_pax_header(self):
        # tarfile reads an extended header whole: its size is bounded first.
        self.refused(raw_tar(member("././@PaxHeader", tarfile.XHDTYPE, size=2 << 20), self.GOOD),
                     f"a tar header of more than {package.MAX_HEADER_BYTES} bytes")


class FastHeaderTest(unittest.TestCase):
    """The runner's header parser yields what tarfile's does."""

    def test_same_fields_as_tarfile(self):
        infos = [member("code/handler.py", data=b"x" * 10)[0], member("code/dir", tarfile.DIRTYPE)[0],
                 member("code/" + "p" * 120 + "/x.py", size=(8 << 30) - 1)[0], member("code/exe", size=0)[0],
                 member("code/old-style-dir/", tarfile.AREGTYPE)[0], member("code/aregtype", tarfile.AREGTYPE)[0]]
        infos[3].mode = 0o4755
        for info in infos:
            for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT):
                buf = info.tobuf(fmt, "utf-8", "surrogateescape")[:tarfile.BLOCKSIZE]
                with self.subTest(name=info.name, fmt=fmt):
                    want = tarfile.TarInfo.frombuf(buf, "utf-8", "surrogateescape")
                    got = package._TarInfo.frombuf(buf, "utf-8", "surrogateescape")  # pylint: disable=protected-access
                    self.assertEqual((got.name, got.type, got.mode, got.size, got.chksum),
                                     (want.name, want.type, want.mode, want.size, want.chksum))

    def test_what_tarfile_refuses_is_refused(self):
        buf = bytearray(member("code/x.py", data=b"x")[0].tobuf(tarfile.USTAR_FORMAT)[:tarfile.BLOCKSIZE])
        buf[0] ^= 1  # the checksum no longer matches
        for parse in (tarfile.TarInfo.frombuf, package._TarInfo.frombuf):  # pylint: disable=protected-access
            with self.assertRaises(tarfile.InvalidHeaderError):
                parse(bytes(buf), "utf-8", "surrogateescape")
        for parse in (tarfile.TarInfo.frombuf, package._TarInfo.frombuf):  # pylint: disable=protected-access
            with self.assertRaises(tarfile.EOFHeaderError):
                parse(bytes(tarfile.BLOCKSIZE), "utf-8", "surrogateescape")


class LoadTest(PackageTestCase):
    def test_a_package_of_modules_dependencies_and_data(self):
        handler = self.load(MULTI_MODULE)
        got = handler(None)
        self.assertEqual((got["greeting"], got["helper"], got["third"], got["shadow"], got["util"]),
                         ("hello from a package", "HI!", "1.2.3", "code", "app.util"))
        self.assertEqual(got["file"], os.path.join(self.dir, "code", "handler.py"))
        self.assertEqual(got["path"], [os.path.join(self.dir, "code"), os.path.join(self.dir, "deps")])

    def test_a_dotted_module(self):
        handler = self.load({"code/app/__init__.py": "", "code/app/main.py": "def handle(req):\n    return 'main'\n"},
                            module="app.main")
        self.assertEqual(handler(None), "main")

    def test_another_handler_name(self):
        handler = self.load({"code/handler.py": "def main(req):\n    return 'm'\n"}, handler="main")
        self.assertEqual(handler(None), "m")

    def test_module_missing(self):
        message = self.load_error({"code/other.py": ""})
        self.assertRegex(message, r"^package sha256:[0-9a-f]{64} has no module 'handler': no handler.py or "
                                  r"handler/__init__.py in its code/$")
        message = self.load_error({"code/app/__init__.py": ""}, module="app.main")
        self.assertIn("has no module 'app.main': no app/main.py", message)

    def test_no_code_directory(self):
        self.assertIn("has no code/ directory", self.load_error({"deps/x.py": ""}))

    def test_handler_missing_or_not_callable(self):
        self.assertEqual(self.load_error({"code/handler.py": "def other(req): pass\n"}),
                         "handler 'handle' is not defined in handler.py")
        self.assertEqual(self.load_error({"code/app/__init__.py": "", "code/app/main.py": "handle = 1\n"}, "app.main"),
                         "handler 'handle' in app/main.py is not callable")

    def test_an_import_error_names_the_users_lines(self):
        message = self.load_error({"code/handler.py": "import helpers\n",
                                   "code/helpers.py": "\nimport not_installed\n"})
        self.assertEqual(message.splitlines(), [
            "module 'handler' raised ModuleNotFoundError while loading: No module named 'not_installed'",
            '  File "handler.py", line 1, in <module>',
            "    import helpers",
            '  File "helpers.py", line 2, in <module>',
            "    import not_installed",
        ])

    def test_an_exception_in_a_dependency(self):
        message = self.load_error({"code/handler.py": "import lib\n",
                                   "deps/lib/__init__.py": "raise ValueError('no')\n"})
        self.assertIn("module 'handler' raised ValueError while loading: no", message)
        self.assertIn('File "deps/lib/__init__.py", line 1', message)

    def test_a_syntax_error_names_its_file_and_line(self):
        message = self.load_error({"code/handler.py": "import helpers\n", "code/helpers.py": "x = 1\ndef f(:\n"})
        self.assertTrue(message.startswith("SyntaxError: "), message)
        self.assertIn("(helpers.py, line 2)", message.splitlines()[0])

    def test_system_exit_at_import(self):
        self.assertIn("raised SystemExit", self.load_error({"code/handler.py": "raise SystemExit(3)\n"}))

    def test_a_module_name_that_is_not_one(self):
        for module in ("../x", "a-b", "", "a..b", "1x"):
            with self.subTest(module=module):
                with self.assertRaisesRegex(PackageError, "is not a dotted Python module name"):
                    package.load(Source(url="http://127.0.0.1:1/p", module=module or "."), "handle", self.settings)

    def test_a_module_the_runner_imported_before(self):
        message = self.load_error({"code/json.py": "def handle(req): pass\n"}, module="json")
        self.assertIn("module 'json' is not the package's", message)


class PoolPackageTest(RunnerTestCase):
    TOKEN = "pool-package-token"

    def setUp(self):
        self.fetcher = FakeFetcher()
        self.addCleanup(self.fetcher.close)
        tmp = tempfile.TemporaryDirectory(prefix="pool-package-test-")
        self.addCleanup(tmp.cleanup)
        self.termination_log = os.path.join(tmp.name, "termination-log")
        self.package_dir = os.path.join(tmp.name, "package")
        sandbox(self)
        self.serve(Config(host="127.0.0.1", port=0, admin_port=0, mode=api.MODE_POOL, package_dir=self.package_dir,
                          termination_log=self.termination_log, package_timeout_seconds=5,
                          specialize_token_sha256=hashlib.sha256(self.TOKEN.encode()).hexdigest()))

    def spec(self, pkg, **extra):
        body = {"function": "ns/pkg", "handler": "handle", "code": "", "package": pkg, "env": {},
                "timeoutSeconds": 5, "concurrency": 2}
        body.update(extra)
        return json.dumps(body).encode()

    def specialize(self, body):
        status, _, answer = self.request("POST", api.SPECIALIZE_PATH, body=body, admin=True,
                                         headers={"Authorization": api.AUTHORIZATION_SCHEME + self.TOKEN})
        return status, json.loads(answer)

    def test_a_package_specialization_then_serves(self):
        files = dict(MULTI_MODULE)
        files["code/handler.py"] = "import helpers\n\ndef handle(req):\n    return helpers.shout('pool')\n"
        body = self.spec(self.fetcher.add(make_tar(files)))
        status, answer = self.specialize(body)
        self.assertEqual(status, 200, answer)
        self.assertGreater(answer["specializeMicros"], 0)
        self.assertEqual(self.request("GET", "/")[2], b"POOL!")
        # The same body again: 409 with its hash, as for inline code; the
        # hash covers the package (and another package's body is not it).
        status, answer = self.specialize(body)
        self.assertEqual((status, answer["specHash"]), (409, hashlib.sha256(body).hexdigest()))
        other = self.spec(self.fetcher.add(make_tar({"code/handler.py": "def handle(req): return 2\n"})))
        status, answer = self.specialize(other)
        self.assertEqual((status, answer["specHash"]), (409, hashlib.sha256(body).hexdigest()))
        self.assertEqual(self.request("GET", "/")[2], b"POOL!")

    def test_a_refused_ticket_is_422_spends_the_pod_and_exits_3(self):
        pkg = self.fetcher.add(make_tar({"code/handler.py": "def handle(req): return 1\n"}))
        pkg["ticket"] = "stolen"
        body = self.spec(pkg)
        with self.assertLogs("runner", level="ERROR"):
            status, answer = self.specialize(body)
        want = f"fetching package {pkg['digest']} failed: 401 ticket refused"
        self.assertEqual((status, answer["error"]), (422, want))
        self.server.join()
        self.assertEqual(self.server.exit_code, api.LOAD_FAILED_EXIT_CODE)
        with open(self.termination_log, encoding="utf-8") as f:
            self.assertEqual(f.read(), want)

    def test_a_fetcher_answering_502_is_503_spends_the_pod_and_exits_4(self):
        pkg = self.fetcher.add(make_tar({"code/handler.py": "def handle(req): return 1\n"}),
                               errors=itertools.repeat((502, "registry unreachable")))
        body = self.spec(pkg)
        with self.assertLogs("runner", level="ERROR"):
            status, answer = self.specialize(body)
        want = f"fetching package {pkg['digest']} failed: 502 registry unreachable"
        self.assertEqual((status, answer), (503, {"error": want, "status": 503}))
        self.assertEqual(len(self.fetcher.requests), 1)  # tried once: the gateway tries another pod
        # Spent: never "already specialized", never specialized again.
        with self.assertRaises(Exception) as ctx:
            self.runner.specializer.claim(api.AUTHORIZATION_SCHEME + self.TOKEN, body)
        self.assertEqual(ctx.exception.status, 503)
        self.server.join()
        self.assertEqual(self.server.exit_code, api.FETCH_FAILED_EXIT_CODE)
        with open(self.termination_log, encoding="utf-8") as f:
            self.assertEqual(f.read(), want)

    def test_a_pod_that_failed_mid_unpack_is_never_reused(self):
        body = self.spec(self.fetcher.add(raw_tar(member("code/handler.py", data=b"def handle(req): return 1\n"),
                                                  member("code/link", tarfile.SYMTYPE, linkname="/"))))
        with self.assertLogs("runner", level="ERROR"):
            status, answer = self.specialize(body)
        self.assertEqual(status, 422)
        self.assertIn("'code/link' is a symbolic link", answer["error"])
        # Not "already specialized", and not specializable again.
        specializer = self.runner.specializer
        for again in (body, self.spec(self.fetcher.add(make_tar({"code/handler.py": "def handle(r): return 2\n"})))):
            with self.assertRaises(Exception) as ctx:
                specializer.claim(api.AUTHORIZATION_SCHEME + self.TOKEN, again)
            self.assertEqual(ctx.exception.status, 422)
        self.server.join()
        self.assertEqual(self.server.exit_code, api.LOAD_FAILED_EXIT_CODE)

    def test_malformed_package_objects_are_400_and_claim_nothing(self):
        good = self.fetcher.add(make_tar({"code/handler.py": "def handle(req): return 'ok'\n"}))
        for body in (self.spec([]), self.spec({"ticket": "t"}), self.spec({"url": ""}), self.spec({"url": 5}),
                     self.spec(dict(good, ticket=5)), self.spec(dict(good, module=["handler"])),
                     self.spec(good, code="def handle(req): pass\n")):
            with self.subTest(body=body):
                self.assertEqual(self.specialize(body)[0], 400)
        status, answer = self.specialize(self.spec(good))
        self.assertEqual(status, 200, answer)
        self.assertEqual(self.request("GET", "/")[2], b"ok")

    def test_a_module_default(self):
        good = self.fetcher.add(make_tar({"code/handler.py": "def handle(req): return 'default module'\n"}))
        del good["module"]
        self.assertEqual(self.specialize(self.spec(good))[0], 200)
        self.assertEqual(self.request("GET", "/")[2], b"default module")


#: A deployment-mode runner's tries of a failing fetch, shortened.
FAST_RETRIES = {"FAAS_PACKAGE_FETCH_ATTEMPTS": "3", "FAAS_PACKAGE_FETCH_BACKOFF_SECONDS": "0.05"}


def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        resp = c.getresponse()
        return resp.status, resp.read()
    finally:
        c.close()


class PackageProcessTest(unittest.TestCase):
    """python -m runner with a package, as the pod runs it."""

    def setUp(self):
        self.fetcher = FakeFetcher()
        self.addCleanup(self.fetcher.close)

    def start(self, pkg, **env):
        proc = RunnerProcess(env={api.ENV_PACKAGE_URL: pkg["url"], api.ENV_PACKAGE_TICKET: pkg["ticket"],
                                  api.ENV_PACKAGE_DIGEST: pkg["digest"], api.ENV_PACKAGE_MODULE: pkg["module"],
                                  api.ENV_CODE_PATH: "/nonexistent/function.py", **env})
        self.addCleanup(proc.stop)
        return proc

    def termination_message(self, proc):
        with open(proc.termination_log, encoding="utf-8") as f:
            return f.read()

    def test_deployment_mode_serves_a_package_and_hides_its_ticket(self):
        pkg = self.fetcher.add(make_tar(MULTI_MODULE))
        proc = self.start(pkg).wait_serving()
        status, body = request(proc.port, "GET", "/")
        self.assertEqual(status, 200, body)
        got = json.loads(body)
        self.assertEqual((got["greeting"], got["helper"], got["third"], got["shadow"], got["util"]),
                         ("hello from a package", "HI!", "1.2.3", "code", "app.util"))
        self.assertEqual(got["file"], os.path.join(proc.dir.name, "package", "code", "handler.py"))
        for where in ("proc_environ", "os_environ"):
            self.assertNotIn(TICKET, json.dumps(got[where]), where)
            self.assertNotIn(api.ENV_PACKAGE_TICKET, json.dumps(got[where]), where)
        self.assertIn(api.ENV_PACKAGE_DIGEST, got["os_environ"])  # not a secret
        with open(f"/proc/{proc.proc.pid}/environ", "rb") as f:
            self.assertNotIn(TICKET.encode(), f.read())
        self.assertEqual(self.fetcher.requests[-1][1]["Authorization"], "Bearer " + TICKET)

    def test_deployment_mode_with_a_refused_ticket_exits_3(self):
        pkg = self.fetcher.add(make_tar({"code/handler.py": "def handle(req): pass\n"}))
        proc = self.start(dict(pkg, ticket="not-it"))
        self.assertEqual(proc.wait_exit(), api.LOAD_FAILED_EXIT_CODE)
        self.assertEqual(self.termination_message(proc), f"fetching package {pkg['digest']} failed: 401 ticket refused")

    def test_deployment_mode_a_502_twice_then_serves(self):
        pkg = self.fetcher.add(make_tar({"code/handler.py": "def handle(req):\n    return 'third time'\n"}),
                               errors=[(502, "registry unreachable")] * 2)
        proc = self.start(pkg, **FAST_RETRIES).wait_serving()
        self.assertEqual(request(proc.port, "GET", "/"), (200, b"third time"))
        self.assertEqual(len(self.fetcher.requests), 3)
        proc.wait_log("trying again")

    def test_deployment_mode_always_502_exits_4_with_the_reason(self):
        pkg = self.fetcher.add(make_tar({"code/handler.py": "def handle(req): pass\n"}),
                               errors=itertools.repeat((502, "registry unreachable")))
        proc = self.start(pkg, **FAST_RETRIES)
        self.assertEqual(proc.wait_exit(), api.FETCH_FAILED_EXIT_CODE)
        self.assertRegex(self.termination_message(proc), rf"^fetching package {pkg['digest']} failed: 502 registry "
                                                         r"unreachable \(tried 3 times in [0-9.]+ s\)$")
        self.assertEqual(len(self.fetcher.requests), 3)

    def test_deployment_mode_with_the_fetcher_down_exits_4(self):
        url = f"http://127.0.0.1:{free_port()}{api.FETCH_PATH}default/f/sha256:00"
        proc = self.start({"url": url, "ticket": TICKET, "digest": "sha256:00", "module": "handler"}, **FAST_RETRIES)
        self.assertEqual(proc.wait_exit(), api.FETCH_FAILED_EXIT_CODE)
        self.assertIn("fetching package sha256:00 failed: 127.0.0.1:", self.termination_message(proc))
        self.assertIn("ConnectionRefusedError", self.termination_message(proc))

    def test_deployment_mode_a_package_gone_exits_3(self):
        pkg = self.fetcher.add(make_tar({"code/handler.py": "def handle(req): pass\n"}))
        proc = self.start(dict(pkg, url=pkg["url"] + "0"), **FAST_RETRIES)
        self.assertEqual(proc.wait_exit(), api.LOAD_FAILED_EXIT_CODE)
        self.assertIn("failed: 404 no such package", self.termination_message(proc))
        self.assertEqual(len(self.fetcher.requests), 1)

    def test_deployment_mode_load_failures_exit_3_with_the_reason(self):
        cases = {
            "hostile": (raw_tar(member("code/handler.py", data=b""), member("../x", data=b"x")),
                        "refused: '../x' is not a canonical relative name"),
            "module missing": (make_tar({"code/main.py": ""}), "has no module 'handler'"),
            "import error": (make_tar({"code/handler.py": "import not_installed\n"}),
                             "module 'handler' raised ModuleNotFoundError while loading: "
                             "No module named 'not_installed'\n"
                             '  File "handler.py", line 1, in <module>\n    import not_installed'),
        }
        for name, (body, reason) in cases.items():
            with self.subTest(name=name):
                proc = self.start(self.fetcher.add(body))
                self.assertEqual(proc.wait_exit(), api.LOAD_FAILED_EXIT_CODE)
                self.assertIn(reason, self.termination_message(proc))

    def test_pool_mode_specializes_with_a_package(self):
        token = "process-package-token"
        proc = RunnerProcess(env={api.ENV_MODE: api.MODE_POOL,
                                  api.ENV_SPECIALIZE_TOKEN_SHA256: hashlib.sha256(token.encode()).hexdigest()})
        self.addCleanup(proc.stop)
        proc.wait_serving()
        pkg = self.fetcher.add(make_tar(MULTI_MODULE))
        body = json.dumps({"function": "ns/pkg", "handler": "handle", "code": "", "package": pkg, "env": {"A": "b"},
                           "timeoutSeconds": 5, "concurrency": 2}).encode()
        status, answer = request(proc.admin_port, "POST", api.SPECIALIZE_PATH, body,
                                 {"Authorization": api.AUTHORIZATION_SCHEME + token})
        self.assertEqual(status, 200, answer)
        status, answer = request(proc.port, "GET", "/")
        self.assertEqual(status, 200, answer)
        got = json.loads(answer)
        self.assertEqual((got["greeting"], got["third"], got["os_environ"]["A"]),
                         ("hello from a package", "1.2.3", "b"))
        for where in ("proc_environ", "os_environ"):
            self.assertNotIn(TICKET, json.dumps(got[where]), where)
        proc.wait_log("Package sha256:")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


if __name__ == "__main__":
    unittest.main()
