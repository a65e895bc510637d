"""Wall time of plain `cnmlab` commands, as a student's script pays it: a new Python process per
command against the running engine (the benchmark's lab of 20 containers).

The package's bytecode is compiled first, as `pip install` does: without it every run would
compile cnmlab from source (a session with PYTHONDONTWRITEBYTECODE=1 never writes it).
"""

from __future__ import annotations

import compileall
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {"network ls": ["network", "ls"], "ps": ["ps"], "inspect": ["inspect", "c1"],
            "network inspect": ["network", "inspect", "bench"]}


def wall(runs: int) -> dict:
    import cnmlab

    compileall.compile_dir(str(Path(cnmlab.__file__).parent), quiet=1)
    samples: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    argvs = {"python -c pass": [sys.executable, "-c", "pass"],
             **{name: [sys.executable, "-m", "cnmlab", *argv] for name, argv in COMMANDS.items()}}
    for _ in range(runs):  # alternate the commands, so a busy moment hits them alike
        for name, argv in argvs.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, env=os.environ)
            samples.setdefault(name, []).append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.setdefault(name, []).append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if done.returncode != 0:
                return {"error": f"`cnmlab {' '.join(argv[3:])}` failed: {done.stderr.decode()[-300:]}"}
    out: dict = {}
    for name in argvs:
        key = name.replace(" ", "_").replace("-", "")
        out[f"{key}_ms"] = statistics.median(samples[name]) * 1000
        out[f"{key}_cpu_ms"] = statistics.median(cpu[name]) * 1000
    return out
