"""scripts/setup.sh (what ./run.sh and ./test.sh run first): one install marker that the test
profile's superset satisfies for both, and waiting for apt's lock instead of failing on it.
Each case runs a copy of the script against fake pip / apt-get that only record their calls."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def recorder(path: Path, log: Path) -> None:
    path.write_text(f'#!/bin/sh\necho "$(basename "$0") $*" >> {log}\n')
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path):
    """A copy of the repository's set-up with a venv whose pip and python only record their calls."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    log = tmp_path / "calls.log"
    log.touch()
    recorder(bin_dir / "pip", log)
    recorder(bin_dir / "python", log)
    return tmp_path


def setup(checkout: Path, profile: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(checkout / "scripts" / "setup.sh"), profile], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **env})


def pip_installs(checkout: Path) -> list[str]:
    return [line.split()[-1] for line in (checkout / "calls.log").read_text().splitlines()
            if line.startswith("pip install")]


def test_run_after_test_installs_nothing(checkout):
    assert setup(checkout, "test").returncode == 0
    assert setup(checkout, "run").returncode == 0
    assert setup(checkout, "test").returncode == 0
    assert pip_installs(checkout) == [f"{checkout}[test]"], "the test profile satisfies run too"


def test_test_after_run_adds_the_test_extras_once(checkout):
    setup(checkout, "run")
    setup(checkout, "test")
    setup(checkout, "run")
    assert pip_installs(checkout) == [str(checkout), f"{checkout}[test]"]
    with open(checkout / "pyproject.toml", "a") as f:
        f.write("\n# a changed dependency list\n")
    setup(checkout, "run")
    assert pip_installs(checkout)[-1] == str(checkout), "a changed pyproject.toml installs again"


@pytest.mark.skipif(os.geteuid() != 0, reason="setup.sh calls apt-get only as root")
def test_apt_waits_for_the_lock_and_says_so(checkout, tmp_path):
    """With tmux "missing" (a PATH without it), setup.sh must wait while another process holds
    the package lock, say what it waits for, then call apt-get with DPkg::Lock::Timeout."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for tool in Path(folder).iterdir():
            if tool.name not in ("tmux", "apt-get") and not (bin_dir / tool.name).exists():
                (bin_dir / tool.name).symlink_to(tool)
    log = checkout / "calls.log"
    recorder(bin_dir / "apt-get", log)
    lock = tmp_path / "lock"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, sys, time
        with open({str(lock)!r}, "a") as f:
            fcntl.lockf(f, fcntl.LOCK_EX)
            print("locked", flush=True)
            sys.stdin.readline()
            open({str(log)!r}, "a").write("lock released\\n")
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        done = subprocess.Popen(["bash", str(checkout / "scripts" / "setup.sh"), "run"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PATH": str(bin_dir), "CNMLAB_APT_LOCKS": str(lock)})
        assert done.stderr.readline() == "setup: installing system packages: tmux\n"
        assert done.stderr.readline() == "setup: another apt-get or dpkg holds the package lock; waiting up to 120 s for it to finish\n"
        holder.stdin.write("go\n")
        holder.stdin.flush()
        holder.wait(10)
        assert done.wait(60) == 0, done.stderr.read()
    finally:
        holder.kill()
    calls = log.read_text().splitlines()
    apt = [c for c in calls if c.startswith("apt-get")]
    assert calls.index("lock released") < calls.index(apt[0]), calls
    assert apt[0] == "apt-get -o DPkg::Lock::Timeout=120 update -qq"
    assert apt[1].startswith("apt-get -o DPkg::Lock::Timeout=120 install") and apt[1].endswith("tmux")
