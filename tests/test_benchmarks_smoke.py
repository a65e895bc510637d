"""The benchmark suite runs end to end at N=10 and writes JSON that parses (no timed assertions:
speed goals live in docs/benchmarks.md, not in tests)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_runs_once_at_n10(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--n", "10", "--runs", "1", "--only", "build,api,tui",
                             "--json", str(out), "--no-table"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(out.read_text())
    (row,) = data["build"]
    assert row["n"] == 10
    for way in ("floor", "ip", "engine", "batch"):
        assert row[way]["runs"] == 1
        assert row[way]["build_ms"] > 0 and row[way]["per_container_ms"] > 0
    assert set(row["ratios"]) == {"engine_vs_floor", "batch_vs_floor", "ip_vs_engine", "ip_vs_batch"}
    assert data["api"]["container_inspect_ms"] > 0
    assert data["tui"]["first_frame_ms"] > 0 and data["tui"]["lab_shown_ms"] > 0  # read through tmux -C
    assert data["tui"]["textual_floor_ms"] > 0  # the least Textual app, timed alike
    assert {t["measure"] for t in data["targets"]} >= {"20x20 matrix (s)", "TUI first frame (s)"}
    assert data["machine"]["cores"] >= 1


def test_bad_arguments_get_one_line_errors():
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--n", "ten"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "--n takes comma-separated counts" in result.stderr


def test_controller_benchmark_builds_in_its_own_world():
    result = subprocess.run([sys.executable, "-m", "benchmarks.controller", "5", "1", "--profile"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("run 0: ") and "kernel thread CPU" in result.stdout
    assert "function calls" in result.stdout  # the profile of the last run


def test_steps_benchmark_times_every_step_of_a_build():
    result = subprocess.run([sys.executable, "-m", "benchmarks.steps", "10"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    steps = {line[:40].strip() for line in result.stdout.splitlines()[2:]}
    assert {"unshare net", "sysctl all.disable_ipv6", "veth, made inside the sandbox", "enslave + up (host side)",
            "address", "default route"} <= steps


def test_side_by_side_benchmark_alternates_two_engines(tmp_path):
    """Each engine runs its own checkout's code, even with the benchmark started in another one:
    `python -m` imports from the working directory first (ab starts each engine in its checkout
    and checks it). OLD here is a copy of the package with a version of its own."""
    shutil.copytree(ROOT / "cnmlab", tmp_path / "cnmlab", ignore=shutil.ignore_patterns("__pycache__"))
    init = tmp_path / "cnmlab" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]*"', '__version__ = "0.0.0+ab-copy"', init.read_text()))
    result = subprocess.run([sys.executable, "-m", "benchmarks.ab", str(tmp_path), str(ROOT), "2", "3"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["old", "new"]
    assert "(cnmlab 0.0.0+ab-copy)" in lines[0] and "(cnmlab 0.0.0+ab-copy)" not in lines[1]
    assert all("rounds' medians: run" in line and "single requests' medians: run" in line for line in lines)
    bad = subprocess.run([sys.executable, "-m", "benchmarks.ab", "/nonexistent", str(ROOT)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0
    assert bad.stderr.strip() == "benchmarks.ab: /nonexistent is not a cnmlab checkout (no cnmlab/__init__.py)"
