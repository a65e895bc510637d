"""Classroom capacity: N students on one machine, each with lab 2 built in their own rootless engine.

    sudo .venv/bin/python benchmarks/classroom.py --students 20 [--parallel 2] [--json out.json]

Each student is an unprivileged uid (no account needed: setpriv) with private runtime/state dirs,
as the JupyterHub config gives them. The script builds lab 2 ("show me" for every step) for each,
then, with all N labs up, measures each engine's RSS, the machine's memory, and probe latency
(a TCP probe d1 -> d2 per student, repeated), then stops every engine. docs/classroom.md has the
figures. Run it as root from the repository; it re-exposes a Python under a 0700 /root the same
way tests/test_rootless.py does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_UID = 61000

STUDENT = r"""
import json, sys, time
from cnmlab.client import Client
from cnmlab.labs import find, runner
client = Client()
t0 = time.monotonic()
lab = find(2)
runner.start(client, lab)
for step in lab.steps:
    runner.solve(client, lab, step)
built = time.monotonic() - t0
print(json.dumps({"pid": client.status()["pid"], "build_s": built}))
"""

PROBES = r"""
import json, time
from cnmlab.client import Client
client = Client(autostart=False)
times = []
for _ in range(int(__import__("sys").argv[1])):
    t0 = time.monotonic()
    answer = client.probe("u1", "u2", "tcp", 80)
    times.append((time.monotonic() - t0) * 1000)
print(json.dumps({"ms": times, "outcome": answer.get("Outcome") or answer.get("outcome") or str(answer)[:80]}))
"""


def as_student(uid: int, base: Path, code: str, *args: str, timeout: float = 900) -> dict:
    home = base / str(uid)
    env = {"PATH": os.environ["PATH"], "HOME": str(home / "home"), "CNMLAB_RUNTIME_DIR": str(home / "run"),
           "CNMLAB_STATE_DIR": str(home / "state"), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable, "-c",
                          code, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode:
        raise RuntimeError(f"student {uid}: {out.stderr[-1500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def meminfo() -> dict:
    return {line.split(":")[0]: int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=2, help="labs built at once")
    parser.add_argument("--probes", type=int, default=20, help="probes per student at full load")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cnmlab-class-"))
    os.chmod(base, 0o755)
    uids = [FIRST_UID + i for i in range(args.students)]
    for uid in uids:
        for sub in ("home", "run", "state"):
            (base / str(uid) / sub).mkdir(parents=True)
            os.chown(base / str(uid) / sub, uid, uid)
    before = meminfo()
    started = time.monotonic()
    pids = []
    try:
        with ThreadPoolExecutor(args.parallel) as pool:
            built = list(pool.map(lambda uid: as_student(uid, base, STUDENT), uids))
        pids = [b["pid"] for b in built]
        build_wall = time.monotonic() - started
        time.sleep(5)  # let the engines settle (the first probe's threads, DNS)
        after = meminfo()
        rss = [rss_kib(pid) for pid in pids]
        load_idle = loadavg()
        with ThreadPoolExecutor(len(uids)) as pool:  # every student probing at once
            probed = list(pool.map(lambda uid: as_student(uid, base, PROBES, str(args.probes)), uids))
        times = sorted(t for p in probed for t in p["ms"])
        result = {
            "students": args.students,
            "cores": os.cpu_count(),
            "mem_total_mib": before["MemTotal"] // 1024,
            "build_s_per_student": {"median": statistics.median(b["build_s"] for b in built),
                                    "max": max(b["build_s"] for b in built)},
            "build_wall_s": build_wall,
            "engine_rss_mib": {"median": statistics.median(rss) / 1024, "max": max(rss) / 1024},
            "mem_used_mib_per_student": (before["MemAvailable"] - after["MemAvailable"]) / 1024 / args.students,
            "loadavg_1m_before_probes": load_idle,
            "probe_ms_all_at_once": {"median": statistics.median(times), "p95": times[int(0.95 * (len(times) - 1))],
                                     "max": times[-1]},
            "probe_outcomes": sorted({p["outcome"] for p in probed}),
            "net_namespaces": int(subprocess.run(["sh", "-c", "lsns -t net -n | wc -l"], capture_output=True,
                                                 text=True).stdout.strip() or 0),
        }
    finally:
        for uid in uids:
            subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable, "-m",
                            "cnmlab", "engine", "stop"], env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT),
                            "HOME": str(base / str(uid) / "home"), "CNMLAB_RUNTIME_DIR": str(base / str(uid) / "run"),
                            "CNMLAB_STATE_DIR": str(base / str(uid) / "state")}, capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
