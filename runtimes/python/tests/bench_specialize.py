"""Measures a pool pod's load of inline code compiled by the pod (compile())
against the same code compiled ahead by the compiler (a .pyc unmarshalled
after its header is checked), for 1 KiB and 100 KiB of generated code.

    python3 -m tests.bench_specialize [--rounds N]

Two numbers per case: the loader's step alone, in this process (hot: the
same code loaded again and again), and specializeMicros as a fresh pool
runner process answers it (from the parsed request to the handler in
place), one process per specialization, after it sat idle for 0.2 s as a
pooled pod does. Not a test: unittest does not collect it.
"""

import argparse
import hashlib
import http.client
import json
import statistics
import time

from runner import compiler, loader, pyc
from runner import runnerapi as api
from tests.support import RunnerProcess

SIZES = {"1 KiB": 1024, "100 KiB": 100 * 1024}
TOKEN = "bench-token"


def source(size):
    """The README's generator: a handler, then helpers up to size bytes."""
    parts = ["def handle(req):\n    return 'hello from runner'\n"]
    n, i = len(parts[0]), 0
    while n < size:
        part = "\ndef helper_%d(x):\n    return x * %d + len(str(x))\n" % (i, i)
        parts.append(part)
        n += len(part)
        i += 1
    return "".join(parts)


def load_step(code, compiled, rounds):
    """µs of loader.load_handler: compiling, and from the .pyc (its checks
    included); the minimum and the median of rounds."""
    def timed(fn):
        times = []
        for _ in range(rounds):
            start = time.perf_counter_ns()
            fn()
            times.append((time.perf_counter_ns() - start) / 1000)
        return min(times), statistics.median(times)

    return (timed(lambda: loader.load_handler(code, "handle")),
            timed(lambda: loader.load_handler(code, "handle", code=pyc.loads(code, compiled))))


def specialize_micros(code, compiled):
    """specializeMicros of one fresh pool runner process, and whether it
    loaded the .pyc (compiled None: sent without one)."""
    proc = RunnerProcess(env={api.ENV_MODE: api.MODE_POOL,
                              api.ENV_SPECIALIZE_TOKEN_SHA256: hashlib.sha256(TOKEN.encode()).hexdigest()})
    try:
        proc.wait_serving()
        time.sleep(0.2)  # a pooled pod waits before its specialization comes
        body = json.dumps({"function": "bench/f", "handler": "handle", "code": code}).encode()
        headers = {"Authorization": api.AUTHORIZATION_SCHEME + TOKEN}
        if compiled is not None:
            headers[api.SPEC_LENGTH_HEADER] = str(len(body))
            body += compiled
        conn = http.client.HTTPConnection("127.0.0.1", proc.admin_port, timeout=30)
        conn.request("POST", api.SPECIALIZE_PATH, body=body, headers=headers)
        resp = conn.getresponse()
        answer = json.loads(resp.read())
        if resp.status != 200:
            raise RuntimeError(f"specialization answered {resp.status}: {answer}")
        conn.request("GET", api.STATS_PATH)
        stats = json.loads(conn.getresponse().read())
        conn.close()
        return answer[api.SPECIALIZE_MICROS], stats.get(api.STATS_SPECIALIZED_COMPILED, False)
    finally:
        proc.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200, help="loads per case in this process")
    parser.add_argument("--processes", type=int, default=11, help="pool runner processes per case")
    args = parser.parse_args()
    for name, size in SIZES.items():
        code = source(size)
        compiled = compiler.compile_isolated(code.encode(), compiler.Settings({}))
        (c_min, c_med), (p_min, p_med) = load_step(code, compiled, args.rounds)
        print(f"{name} ({len(code)} bytes of source, .pyc {len(compiled)} bytes)")
        print(f"  load step, µs     compile: min {c_min:8.0f} median {c_med:8.0f}"
              f"   .pyc: min {p_min:8.0f} median {p_med:8.0f}")
        for label, sent in (("compile", None), (".pyc", compiled)):
            results = [specialize_micros(code, sent) for _ in range(args.processes)]
            used = {flag for _, flag in results}
            micros = sorted(m for m, _ in results)
            print(f"  specializeMicros  {label:7s}: min {micros[0]:8d} median {statistics.median(micros):8.0f}"
                  f" max {micros[-1]:8d}   specializedCompiled {sorted(used)}")


if __name__ == "__main__":
    main()
