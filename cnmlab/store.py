"""The lab's state in SQLite: hosts, networks, containers, endpoints and IPAM's cursor.

The kernel objects die with the engine; this store is what the engine rebuilds them from.
"""

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from . import storecheck
from .endpoint import Endpoint
from .host import Host
from .network import IpamConfig, Network
from .sandbox import Container, PortBinding

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _network(d: dict) -> Network:
    return Network(**{**d, "ipam": [IpamConfig(**c) for c in d.get("ipam", [])]})


def _container(d: dict) -> Container:
    return Container(**{**d, "ports": [PortBinding(**p) for p in d.get("ports", [])]})


LOADERS = {"host": lambda d: Host(**d), "network": _network, "container": _container, "endpoint": lambda d: Endpoint(**d)}
KEYS = {"host": "name", "network": "id", "container": "id", "endpoint": "id"}


def private_dir(path: Path) -> None:
    """The state dir holds the lab and its logs: the owner's alone (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(PermissionError):
        os.chmod(path, 0o700)


class Store:
    def __init__(self, path: Path | str):
        self.path = str(path)
        if self.path != ":memory:":
            private_dir(Path(self.path).parent)
            storecheck.check(self.path)  # a damaged file stops the engine with one line: never a quiet older lab
            old_umask = os.umask(0o077)  # the DB and its -wal/-shm: 0600, like the socket
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
        finally:
            if self.path != ":memory:":
                os.umask(old_umask)
        if self.path != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(self.path + suffix, 0o600)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._seq = (self._db.execute("SELECT MAX(seq) FROM objects").fetchone()[0] or 0) + 1
        self._in_batch = False

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group the writes of the body in one transaction: one commit for a whole topology.

        Used from the kernel thread only (the one thread that changes the lab); nests."""
        if self._in_batch:
            yield
            return
        with self._lock:
            self._db.execute("BEGIN")
        self._in_batch = True
        try:
            yield
        finally:
            self._in_batch = False
            with self._lock:
                self._db.execute("COMMIT")

    def put(self, obj: Host | Network | Container | Endpoint) -> None:
        kind = type(obj).__name__.lower()
        key = getattr(obj, KEYS[kind])
        with self._lock:
            row = self._db.execute("SELECT seq FROM objects WHERE kind=? AND id=?", (kind, key)).fetchone()
            seq = row[0] if row else self._next()
            self._db.execute(
                "INSERT OR REPLACE INTO objects (kind, id, seq, data) VALUES (?, ?, ?, ?)",
                (kind, key, seq, json.dumps(asdict(obj))),
            )

    def delete(self, obj: Host | Network | Container | Endpoint) -> None:
        kind = type(obj).__name__.lower()
        with self._lock:
            self._db.execute("DELETE FROM objects WHERE kind=? AND id=?", (kind, getattr(obj, KEYS[kind])))

    def load(self, kind: str) -> list:
        """All objects of a kind, in the order they were first stored."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM objects WHERE kind=? ORDER BY seq", (kind,)).fetchall()
        return [LOADERS[kind](json.loads(data)) for (data,) in rows]

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM objects")
            self._db.execute("DELETE FROM meta")

    def close(self) -> None:
        self._db.close()

    def _next(self) -> int:
        self._seq += 1
        return self._seq
