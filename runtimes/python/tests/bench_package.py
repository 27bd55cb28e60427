"""Measures a package's fetch and unpack from a local http.server: 20 MB as
200 files of 100 KB, and as 2,000 files of 10 KB; and tarfile's own
extractall of the same answer, for comparison.

    python3 -m tests.bench_package [--dir DIR] [--rounds N]

DIR is where packages are unpacked (default: a new directory under /dev/shm
when it exists, to measure the runner rather than the disk; pass a disk
directory to see its cost). Not a test: unittest does not collect it.
"""

import argparse
import http.client
import os
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
import urllib.parse

from runner import package
from tests.fetcher import FakeFetcher, make_tar

SHAPES = {"200 x 100 KB": (200, 100_000), "2,000 x 10 KB": (2000, 10_000)}


def package_files(count, size):
    data = os.urandom(size)
    files = {f"code/d{i // 100:03d}/f{i:05d}.bin": data for i in range(count)}
    files["code/handler.py"] = "def handle(req):\n    return 'ok'\n"
    return files


def extractall(fields, dest):
    """The plain way: tarfile's stream mode over the answer, extractall."""
    url = urllib.parse.urlsplit(fields["url"])
    conn = http.client.HTTPConnection(url.hostname, url.port)
    conn.request("GET", url.path, headers={"Authorization": "Bearer " + fields["ticket"]})
    with tarfile.open(fileobj=conn.getresponse(), mode="r|") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")  # pylint: disable=unexpected-keyword-arg
        else:
            tar.extractall(dest)  # noqa: S202 - our own archive
    conn.close()


def measure(fn, rounds, dest):
    times = []
    for _ in range(rounds):
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench-package-", dir=args.dir)
    dest = os.path.join(work, "package")
    fetcher = FakeFetcher()
    print(f"Python {sys.version.split()[0]}, unpacking into {work}, best and median of {args.rounds}")
    try:
        for shape, (count, size) in SHAPES.items():
            body = make_tar(package_files(count, size))
            fields = fetcher.add(body)
            settings = package.Settings(dir=dest)
            results = {
                "runner (package.fetch)": measure(lambda: package.fetch(package.Source(**fields), dest, settings),
                                                  args.rounds, dest),
                "tarfile r| extractall": measure(lambda: extractall(fields, dest), args.rounds, dest),
            }
            print(f"{shape} ({len(body) / 1e6:.1f} MB tar):")
            for name, (best, median) in results.items():
                print(f"  {name:24s} {best:7.1f} ms  (median {median:.1f})")
    finally:
        fetcher.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
