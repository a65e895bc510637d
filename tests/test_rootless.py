"""The engine runs as an unprivileged user: a user namespace maps the user to root, no sudo.

As root, the test makes a private mount namespace in which the Python install under /root (mode
0700 here) is visible to others, then drops to uid 65534 and drives a real engine from there.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

NOBODY = 65534
PROJECT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import os
    import time
    from cnmlab.client import Client
    c = Client()
    st = c.status()
    print("ROOTLESS", st["rootless"])
    print("ENGINE_UID", os.stat(f"/proc/{st['pid']}").st_uid)
    c.network_create("net-a")
    c.run("aa", network="net-a")
    c.run("bb", network="net-a")
    ip = c.inspect("bb")["NetworkSettings"]["Networks"]["net-a"]["IPAddress"]
    print("PING", c.exec("aa", ["ping", "-c1", "-W2", ip]).returncode)
    print("RULES", "DOCKER-ISOLATION-STAGE-1" in c.exec("host1", ["iptables", "-S"]).stdout)
    print("DNS", c.exec("aa", ["getent", "hosts", "bb"]).stdout.split()[:1] == [ip])
    print("PASSWD", "root:" in c.exec("aa", ["cat", "/etc/passwd"]).stdout)
    time.sleep(0.5)  # the spare namespaces asked for behind bb's sandbox are ready: cc takes one
    c.run("cc", network="net-a")
    ipc = c.inspect("cc")["NetworkSettings"]["Networks"]["net-a"]["IPAddress"]
    print("SPARE", c.exec("aa", ["busybox", "wget", "-qO-", f"http://{ipc}/"]).stdout.strip() == f"cc {ipc}")
    c.stop_engine()
    print("STOPPED", not c.running())
""")


def visible_to_others(path: Path) -> bool:
    while path != path.parent:
        if not os.stat(path).st_mode & 0o001:
            return False
        path = path.parent
    return True


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to an unprivileged user")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is missing")
def test_engine_runs_unprivileged_in_a_user_namespace(tmp_path):
    python = Path(sys.executable)
    real_python = python.resolve()
    base = Path(tempfile.mkdtemp(prefix="cnmlab-rootless-"))
    os.chmod(base, 0o755)
    for sub in ("run", "state", "home"):
        (base / sub).mkdir()
        os.chown(base / sub, NOBODY, NOBODY)
    # Re-expose what lives under a private /root: the interpreter and, in CI, maybe the project.
    shown = [p for p in (real_python.parents[2], PROJECT) if not visible_to_others(p)]
    mounts = []
    for i, path in enumerate(shown):
        keep = base / f"keep{i}"
        keep.mkdir()
        mounts.append(f"mount --bind {path} {keep}")
    if shown:
        mounts.append("mount -t tmpfs -o mode=755 tmpfs /root")
    for i, path in enumerate(shown):
        mounts.append(f"mkdir -p {path} && mount --bind {base / f'keep{i}'} {path}")
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "HOME": str(base / "home"),
        "CNMLAB_RUNTIME_DIR": str(base / "run"),
        "CNMLAB_STATE_DIR": str(base / "state"),
        "PYTHONPATH": str(PROJECT),
    }
    inner = " && ".join(mounts + [
        f"exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups {python} -c \"$CNMLAB_SCRIPT\""])
    try:
        result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
                                env={**env, "CNMLAB_SCRIPT": SCRIPT}, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr + (base / "state" / "engine.log").read_text(errors="replace") if (base / "state" / "engine.log").exists() else result.stderr
        lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
        assert lines["ROOTLESS"] == "True"
        assert lines["ENGINE_UID"] == str(NOBODY)
        assert lines["PING"] == "0"
        assert lines["RULES"] == "True"
        assert lines["DNS"] == "True", "embedded DNS works rootless too (a private /etc/netns)"
        assert lines["PASSWD"] == "True", "the world still sees the machine's /etc"
        assert lines["SPARE"] == "True", "a sandbox from a spare namespace (osl/spares.py) serves its test services"
        assert lines["STOPPED"] == "True"
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop a capability")
def test_missing_privileges_give_one_clear_line(tmp_path):
    """Without CAP_SYS_ADMIN the world cannot be made: the first client says why, in one line."""
    env = {**os.environ, "CNMLAB_RUNTIME_DIR": str(tmp_path / "run"), "CNMLAB_STATE_DIR": str(tmp_path / "state")}
    result = subprocess.run(["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", sys.executable,
                             "-m", "cnmlab", "network", "ls"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: cannot create the lab world") and "CAP_SYS_ADMIN" in lines[0]
    assert not (tmp_path / "run" / "engine.sock").exists()
