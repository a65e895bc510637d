"""Shared fixtures: a private engine per test session, a clean lab per test, and the guard that
fails the session if the machine's root network namespace changed."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import rootns  # noqa: E402

IS_ROOT = os.geteuid() == 0


def pytest_sessionstart(session):
    session.config._rootns_before = rootns.snapshot()
    # Every engine this session starts lives under a private runtime/state directory, so tests
    # never meet a user's own lab (or another test session's).
    base = Path(tempfile.mkdtemp(prefix="cnmlab-test-"))
    session.config._cnmlab_base = base
    os.environ["CNMLAB_RUNTIME_DIR"] = str(base / "run")
    os.environ["CNMLAB_STATE_DIR"] = str(base / "state")
    os.environ["CNMLAB_PLUGIN_TIMEOUT"] = "2"  # a hung remote plugin fails a call in 2 s, not 10
    os.environ["CNMLAB_CHECK_REPLIES"] = "1"  # the engine checks every reply against its declared type
    os.environ["CNMLAB_READ_TIMEOUT"] = "2"  # a stalled client is dropped after 2 s, not 10


def pytest_sessionfinish(session, exitstatus):
    from cnmlab.client import Client

    Client(autostart=False).stop_engine()
    shutil.rmtree(session.config._cnmlab_base, ignore_errors=True)
    diffs = rootns.differences(session.config._rootns_before, rootns.snapshot())
    if diffs:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "THE ROOT NETWORK NAMESPACE CHANGED DURING THE SUITE:\n" + "\n".join(diffs)
        if reporter:
            reporter.write_line(message, red=True)
        else:
            print(message, file=sys.stderr)
        session.exitstatus = 1


def pytest_collection_modifyitems(config, items):
    if IS_ROOT:
        return
    skip = pytest.mark.skip(reason="needs root (CI runs as root); the rootless engine has its own test")
    for item in items:
        if "kernel" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def engine():
    """A running engine (started by the first client call, as a user's would be)."""
    from cnmlab.client import Client

    client = Client()
    client.status()
    yield client


@pytest.fixture
def lab(engine):
    """A clean lab: one host (host1) with its default networks and nothing else."""
    engine.reset()
    yield engine


@pytest.fixture
def cli():
    """Run the real `cnmlab` command; returns the CompletedProcess."""

    def run(*args: str, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cnmlab", *args], capture_output=True, text=True,
                              timeout=timeout, input=input)

    return run


def in_world(client, target, *argv, check=False) -> subprocess.CompletedProcess:
    """Run a command in a namespace of the lab world (container, host, 'underlay' or None)."""
    result = client.exec(target, list(argv)) if target else subprocess.run(
        client.enter_argv(None, list(argv)), capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"{argv} in {target} failed: {result.stderr}")
    return result


def ping(client, src: str, ip: str) -> bool:
    return in_world(client, src, "ping", "-c1", "-W1", ip).returncode == 0


def ip_of(client, container: str, network: str) -> str:
    return client.inspect(container)["NetworkSettings"]["Networks"][network]["IPAddress"]


def kill_9(client) -> None:
    """kill -9 the engine and wait until its socket refuses (all its threads are gone)."""
    import signal
    import socket
    import time

    os.kill(client.status()["pid"], signal.SIGKILL)
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(client.socket_path)
        except (ConnectionRefusedError, FileNotFoundError):
            return
        finally:
            sock.close()
        time.sleep(0.05)
