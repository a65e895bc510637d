"""Two checkouts side by side: a private engine from each, alternated round by round.

    python -m benchmarks.ab OLD_DIR NEW_DIR [ROUNDS] [N]

Each round builds N containers one request at a time on each engine, removes them one at a
time, then builds them in one batch and removes that (the order of the two engines swaps every
round). It prints, per engine, the rounds' medians (ms per container) and every single
request's median and lower quartile. On a shared 2-core machine whole benchmark runs differ by
20-30% from one to the next; engines alternated within one process see the same moments and
resolve changes of 5-10% (docs/benchmarks.md, session 6). A checkout is used as it is on disk:
its engine starts in it (so `python -m` imports its cnmlab first) with PYTHONPATH set to it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time

from .engine import barrier, fresh_network, settle

USAGE = "usage: python -m benchmarks.ab OLD_DIR NEW_DIR [ROUNDS] [N]"


def engine(code: str):
    """A Client of a fresh private engine running the cnmlab of checkout `code`."""
    from cnmlab.client import Client

    if not os.path.isfile(os.path.join(code, "cnmlab", "__init__.py")):
        raise SystemExit(f"benchmarks.ab: {code} is not a cnmlab checkout (no cnmlab/__init__.py)")
    base = tempfile.mkdtemp(prefix="cnmlab-ab-")
    os.environ.update(CNMLAB_RUNTIME_DIR=os.path.join(base, "run"), CNMLAB_STATE_DIR=os.path.join(base, "state"),
                      PYTHONPATH=os.path.abspath(code))
    client = Client()
    client.base = base  # removed when the engine has stopped
    # `python -m cnmlab.engine` imports from its working directory before PYTHONPATH: started from
    # the checkout this runs in, both engines ran that one's code (sessions 6-8 compared it with itself).
    here = os.getcwd()
    os.chdir(code)
    try:
        status = client.status()  # starts it, with the environment above
        pid, client.version = status["pid"], status["version"]
    finally:
        os.chdir(here)
    if os.path.realpath(f"/proc/{pid}/cwd") != os.path.realpath(code):
        client.stop_engine()
        raise SystemExit(f"benchmarks.ab: the engine for {code} started in {os.path.realpath(f'/proc/{pid}/cwd')}")
    return client


def one_round(client, n: int, per_round: dict, per_request: dict) -> None:
    fresh_network(client, n)
    for op, call in (("run", lambda i: client.run(f"c{i}", network="bench")), ("rm", lambda i: client.rm(f"c{i}"))):
        t0 = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            call(i)
            per_request[op].append(time.perf_counter() - t)
        barrier(client)
        per_round[op].append((time.perf_counter() - t0) / n)
    settle(client)
    for op, call in (("batch", lambda: client.apply(containers=[{"Name": f"c{i}", "Network": "bench"}
                                                                for i in range(n)])),
                     ("unapply", lambda: client.unapply(containers=[{"Name": f"c{i}"} for i in range(n)]))):
        t0 = time.perf_counter()
        call()
        barrier(client)
        per_round[op].append((time.perf_counter() - t0) / n)
    settle(client)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        rounds, n = (int(argv[2]) if len(argv) > 2 else 10), (int(argv[3]) if len(argv) > 3 else 100)
    except ValueError:
        print(f"benchmarks.ab: ROUNDS and N are counts ({USAGE})", file=sys.stderr)
        return 2
    engines = {"old": engine(argv[0]), "new": engine(argv[1])}
    per_round = {k: {"run": [], "rm": [], "batch": [], "unapply": []} for k in engines}
    per_request = {k: {"run": [], "rm": []} for k in engines}
    try:
        for r in range(rounds):
            for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
                one_round(engines[name], n, per_round[name], per_request[name])
    finally:
        for client in engines.values():
            client.stop_engine()
            shutil.rmtree(client.base, ignore_errors=True)
    for name in engines:
        rounds_text = "  ".join(f"{op} {1000 * statistics.median(v):.3f}" for op, v in per_round[name].items())
        requests_text = "  ".join(f"{op} {1000 * statistics.median(v):.3f} (p25 {1000 * sorted(v)[len(v) // 4]:.3f})"
                                  for op, v in per_request[name].items())
        print(f"{name} {argv[0 if name == 'old' else 1]} (cnmlab {engines[name].version}): ms per container, "
              f"rounds' medians: {rounds_text}; "
              f"single requests' medians: {requests_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
