"""The controller alone: a batch build on the engine's kernel thread, in this process, no HTTP.

    python -m benchmarks.controller [N] [RUNS] [--profile]

Enters a private world (as the engine does), starts the engine's kernel thread and controller
with their features, and times `POST /lab/apply`'s handler for N containers on one bridge:
wall time, the kernel thread's own CPU (user + system, and each) and every thread's (the writer
thread makes spare namespaces and resolvers beside it) per container. --profile prints
cProfile's top functions for the last run. For side-by-side runs of two checkouts, run it with
PYTHONPATH set to each in turn: the kernel thread's CPU is far less noisy than wall time on a
shared machine.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    n, runs = int(args[0]) if args else 200, int(args[1]) if len(args) > 1 else 3
    base = Path(tempfile.mkdtemp(prefix="cnmlab-controller-bench-"))
    os.environ["CNMLAB_RUNTIME_DIR"], os.environ["CNMLAB_STATE_DIR"] = str(base / "run"), str(base / "state")
    (base / "run").mkdir()
    (base / "state").mkdir()

    from cnmlab import plugins
    from cnmlab.api import types, wire
    from cnmlab.engine import batch
    from cnmlab.engine.kernel_thread import KernelThread
    from cnmlab.engine.router import Request
    from cnmlab.engine.server import Engine
    from cnmlab.osl import world

    engine = Engine(base / "run" / "engine.sock", base / "state" / "cnmlab.db")
    world.enter()  # a private world: never the machine's root namespace
    engine.kernel = KernelThread(engine._holds_of, on_park=[(engine._park_store, engine._wake_store)])
    plugins.off_thread = engine.kernel.off_thread
    engine.call(engine._start_controller)
    ctl = engine.controller
    engine.call(lambda: ctl.create_network("bench", subnet="10.10.0.0/16",
                                           options={"com.docker.network.bridge.name": "bench0"}))

    def request(method: str, containers: list[dict]) -> Request:
        body = wire.decode(wire.encode({"Containers": containers}), types.Topology)
        return Request(method, "/lab/apply", {}, {}, body, engine)

    def build(profile: cProfile.Profile | None) -> tuple[float, float]:
        req = request("POST", [{"Name": f"c{i}", "Network": "bench"} for i in range(n)])
        t0, c0, p0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_THREAD), time.process_time()
        if profile:
            profile.enable()
        batch.apply(req)
        if profile:
            profile.disable()
        c1, p1 = resource.getrusage(resource.RUSAGE_THREAD), time.process_time()
        return time.perf_counter() - t0, c1.ru_utime - c0.ru_utime, c1.ru_stime - c0.ru_stime, p1 - p0

    profile = None
    for r in range(runs):
        profile = cProfile.Profile() if "--profile" in argv and r == runs - 1 else None
        wall, user, system, process = engine.call(build, profile)
        print(f"run {r}: {1000 * wall / n:.2f} ms per container, kernel thread CPU {1000 * (user + system) / n:.2f} ms"
              f" (user {1000 * user / n:.2f}, system {1000 * system / n:.2f}), every thread's"
              f" {1000 * process / n:.2f} ms", flush=True)
        engine.call(batch.unapply, request("DELETE", [{"Name": f"c{i}"} for i in range(n)]))
        time.sleep(1.0)  # the kernel frees the dropped namespaces before the next run
    engine.call(ctl.close)
    shutil.rmtree(base, ignore_errors=True)
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
