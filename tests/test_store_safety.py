"""The store keeps what it acknowledged: private files, a damaged store refuses to start with one
line and the way out, a store deleted under the running engine is written again."""

import os
import sqlite3
import subprocess
import sys
import time

import pytest

from cnmlab import paths
from cnmlab.client import Client
from cnmlab.errors import EngineUnavailable
from conftest import kill_9

pytestmark = pytest.mark.kernel


def test_state_dir_db_and_log_are_private(engine):
    engine.status()
    assert os.stat(paths.state_dir()).st_mode & 0o777 == 0o700
    assert os.stat(paths.database_path()).st_mode & 0o777 == 0o600
    assert os.stat(paths.log_path()).st_mode & 0o777 == 0o600


@pytest.fixture
def own_engine(tmp_path, monkeypatch):
    """An engine of this test's own, on its own store (the session's lab is left alone)."""
    monkeypatch.setenv("CNMLAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CNMLAB_RUNTIME_DIR", str(tmp_path / "run"))
    client = Client(socket_path=tmp_path / "run" / "engine.sock")
    yield client
    client.stop_engine()


def cnmlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnmlab", *args], capture_output=True, text=True, timeout=120)


def test_garbage_in_the_wal_refuses_to_start_and_reset_force_keeps_the_file(own_engine):
    for n in range(6):
        own_engine.network_create(f"kept-{n}")
    kill_9(own_engine)  # the acknowledged networks are in the WAL, not yet in the DB file
    db = str(paths.database_path())
    wal = db + "-wal"
    data = bytearray(open(wal, "rb").read())
    assert len(data) > 3 * 4096
    data[32 + 24 + 100:32 + 24 + 164] = os.urandom(64)  # inside the first frame's page
    open(wal, "wb").write(data)
    with pytest.raises(EngineUnavailable) as refused:
        own_engine.networks()
    assert refused.value.message.startswith(f"the lab's store {wal} is damaged (its write-ahead log fails its "
                                            "checksum at byte 32): `cnmlab reset --force` moves it aside")
    shown = cnmlab("network", "ls")
    assert shown.returncode == 1 and len(shown.stderr.splitlines()) == 1 and "cnmlab reset --force" in shown.stderr
    forced = cnmlab("reset", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "moved it aside to" in forced.stdout
    kept = [f for f in os.listdir(paths.state_dir()) if ".damaged-" in f]
    assert any(f.endswith("-wal") for f in kept) and any(not f.endswith(("-wal", "-shm")) for f in kept)
    assert not [n for n in own_engine.networks() if n["Name"].startswith("kept-")]


def test_a_truncated_db_refuses_to_start_with_one_line(own_engine):
    own_engine.network_create("t-1")
    own_engine.stop_engine()
    db = str(paths.database_path())
    with sqlite3.connect(db) as conn:  # everything into the DB file itself, then cut it short
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(db, "r+b") as f:
        f.truncate(5000)
    with pytest.raises(EngineUnavailable, match=r"^the lab's store .*cnmlab\.db is damaged \(.*\): `cnmlab reset "
                                                r"--force` moves it aside"):
        own_engine.networks()


def test_a_db_deleted_while_the_engine_runs_is_written_again(own_engine):
    own_engine.network_create("before-delete")
    db = str(paths.database_path())
    os.unlink(db)
    while not os.path.exists(db):  # the engine notices (it looks every second)
        time.sleep(0.1)
    own_engine.network_create("after-delete")
    kill_9(own_engine)
    names = {n["Name"] for n in own_engine.networks()}  # a new engine, restored from the new file
    assert {"before-delete", "after-delete"} <= names
    log = open(paths.log_path()).read()
    assert f"the store {db} was deleted while the engine ran: wrote the lab to it again" in log
