"""The lab's state in SQLite: hosts, networks, containers, endpoints and IPAM's cursor.

The kernel objects die with the engine; this store is what the engine rebuilds them from.
"""

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec

from . import storecheck
from .endpoint import Endpoint
from .host import Host
from .network import IpamConfig, Network
from .sandbox import Container, EndpointConfig, PortBinding, State

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _network(d: dict) -> Network:
    return Network(**{**d, "ipam": [IpamConfig(**c) for c in d.get("ipam", [])]})


def _container(d: dict) -> Container:
    # A record written before containers had states was a running sandbox.
    state = State(**d["state"]) if d.get("state") else State(status="running")
    return Container(**{**d, "ports": [PortBinding(**p) for p in d.get("ports", [])], "state": state,
                        "networks": [EndpointConfig(**n) for n in d.get("networks", [])]})


# msgspec writes a dataclass as the JSON object dataclasses.asdict + json.dumps would (the same
# fields and values; no spaces), about 40x faster: 3 us a row, not 130.
_encode = msgspec.json.Encoder().encode

LOADERS = {"host": lambda d: Host(**d), "network": _network, "container": _container, "endpoint": lambda d: Endpoint(**d)}
AUTOCHECKPOINT_PAGES = 10000
KEYS = {"host": "name", "network": "id", "container": "id", "endpoint": "id"}


def private_dir(path: Path) -> None:
    """The state dir holds the lab and its logs: the owner's alone (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(PermissionError):
        os.chmod(path, 0o700)


class Store:
    """SQLite on disk, mirrored in memory: the mirror answers "is this object stored yet" without a
    query, and is what the engine writes again if the file is deleted or replaced under it."""

    def __init__(self, path: Path | str):
        self.path = str(path)
        self._lock = threading.Lock()
        self._in_batch = False
        self._begun = False  # the batch's transaction is open (BEGIN sent)
        self._dirty: dict[tuple[str, str], tuple[int, object]] = {}  # put in the open batch, written at its commit
        self._gone: set[tuple[str, str]] = set()  # deleted in the open batch, deleted at its commit
        self._db = self._open()
        self._checkpointer: sqlite3.Connection | None = None  # checkpoint()'s own connection
        self._checkpoint_lock = threading.Lock()  # not `_lock`: a checkpoint's syncs must not hold up a commit
        rows = self._db.execute("SELECT kind, id, seq, data FROM objects").fetchall()
        self._mirror: dict[tuple[str, str], tuple[int, str]] = {(k, i): (seq, d) for k, i, seq, d in rows}
        self._meta: dict[str, str] = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        self._seq = max((seq for seq, _ in self._mirror.values()), default=0) + 1
        self._identity = self._file_identity()

    def _open(self) -> sqlite3.Connection:
        on_disk = self.path != ":memory:"
        if on_disk:
            private_dir(Path(self.path).parent)
            storecheck.check(self.path)  # a damaged file stops the engine with one line: never a quiet older lab
            old_umask = os.umask(0o077)  # the DB and its -wal/-shm: 0600, like the socket
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
        finally:
            if on_disk:
                os.umask(old_umask)
        if on_disk:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(self.path + suffix, 0o600)
        db.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint copies the WAL into the file and syncs it: 5-30 ms, at times far more on a
        # busy disk, and it fell on whichever commit crossed SQLite's 1000 pages, stalling that
        # request. The engine checkpoints from its store-watch thread (`checkpoint`); this one
        # only past 10000 pages (40 MB), for a store used without an engine.
        db.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        db.executescript(SCHEMA)
        return db

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group the writes of the body in one transaction: one commit for a whole topology.
        The transaction opens at the first statement: a batch that writes nothing has none.

        Used from the kernel thread only (the one thread that changes the lab); nests."""
        if self._in_batch:
            yield
            return
        self._in_batch = True
        try:
            yield
        finally:
            self._in_batch = False
            with self._lock:
                self._commit()

    def pause_batch(self) -> bool:
        """Commit what the open batch wrote so far: its change waits (on a plugin) while others write.
        True when there was one; `resume_batch` opens it again when the change goes on."""
        if not self._in_batch:
            return False
        with self._lock:
            self._commit()
        self._in_batch = False
        return True

    def resume_batch(self) -> None:
        self._in_batch = True

    def _begin(self) -> None:
        """The batch's transaction, opened before its first statement (under the lock)."""
        if not self._begun:
            self._db.execute("BEGIN")
            self._begun = True

    def _commit(self) -> None:
        self._write_dirty()
        if self._begun:
            self._begun = False
            self._db.execute("COMMIT")

    def put(self, obj: Host | Network | Container | Endpoint) -> None:
        """Store an object as it is now; in a batch, as it is at the batch's commit (a container
        put at create and again at start is encoded and written once)."""
        kind = type(obj).__name__.lower()
        key = (kind, getattr(obj, KEYS[kind]))
        with self._lock:
            known = self._dirty.get(key) or self._mirror.get(key)
            seq = known[0] if known else self._next()
            if self._in_batch:
                self._gone.discard(key)
                self._dirty[key] = (seq, obj)
                return
            data = _encode(obj).decode()
            self._db.execute("INSERT OR REPLACE INTO objects (kind, id, seq, data) VALUES (?, ?, ?, ?)",
                             (*key, seq, data))
            self._mirror[key] = (seq, data)

    def _write_dirty(self) -> None:
        """The batch's deletes, and its puts, each object once as it is now (under the lock, inside
        the transaction). An object is in one or the other: the last of its puts and deletes."""
        if not self._gone and not self._dirty:
            return
        self._begin()
        if self._gone:
            self._db.executemany("DELETE FROM objects WHERE kind=? AND id=?", self._gone)
            self._gone = set()
        if not self._dirty:
            return
        rows = [(kind, oid, seq, _encode(obj).decode()) for (kind, oid), (seq, obj) in self._dirty.items()]
        self._dirty = {}
        self._db.executemany("INSERT OR REPLACE INTO objects (kind, id, seq, data) VALUES (?, ?, ?, ?)", rows)
        for kind, oid, seq, data in rows:
            self._mirror[(kind, oid)] = (seq, data)

    def delete(self, obj: Host | Network | Container | Endpoint) -> None:
        """Forget an object; in a batch, at its commit (with the puts: one statement each, 35 us
        apiece a row). An object the mirror does not hold has no row: nothing to do."""
        kind = type(obj).__name__.lower()
        key = (kind, getattr(obj, KEYS[kind]))
        with self._lock:
            self._dirty.pop(key, None)
            if self._mirror.pop(key, None) is None:
                return
            if self._in_batch:
                self._gone.add(key)
                return
            self._db.execute("DELETE FROM objects WHERE kind=? AND id=?", key)

    def load(self, kind: str) -> list:
        """All objects of a kind, in the order they were first stored."""
        with self._lock:
            self._write_dirty()
            rows = sorted((seq, data) for (k, _), (seq, data) in self._mirror.items() if k == kind)
        return [LOADERS[kind](json.loads(data)) for _, data in rows]

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            return self._meta.get(key, default)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            if self._in_batch:
                self._begin()
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
            self._meta[key] = value

    def clear(self) -> None:
        with self._lock:
            if self._in_batch:
                self._begin()
            self._db.execute("DELETE FROM objects")
            self._db.execute("DELETE FROM meta")
            self._mirror.clear()
            self._dirty.clear()
            self._gone.clear()
            self._meta.clear()

    def close(self) -> None:
        self._db.close()
        self._close_checkpointer()

    def _close_checkpointer(self) -> None:
        with self._checkpoint_lock:
            if self._checkpointer is not None:
                self._checkpointer.close()
                self._checkpointer = None

    def checkpoint(self) -> None:
        """Copy the WAL into the store file (off the kernel thread: the engine's store-watch
        thread, once a second). PASSIVE: it never waits for, nor holds up, the kernel thread's
        commits; what a commit adds meanwhile waits for the next one."""
        if self.path == ":memory:":
            return
        with self._checkpoint_lock:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                self._checkpointer.execute("PRAGMA synchronous=NORMAL")  # sync the WAL, then the file
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # -- the file under us ----------------------------------------------------------------
    def _file_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def check_file(self) -> str | None:
        """If the DB file was deleted or replaced since it was opened, write the lab to a new file
        (a replacing file is kept, renamed) and say what happened; None when all is well."""
        if self.path == ":memory:" or self._in_batch:
            return None
        now = self._file_identity()
        if now == self._identity:
            return None
        with self._lock:
            what = "deleted" if now is None else "replaced"
            kept = storecheck.move_aside(self.path, "replaced") if now is not None else []
            self._db.close()
            self._close_checkpointer()  # the old file's, too
            for suffix in ("-wal", "-shm"):  # the old file's: they belong to an inode that is gone
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path + suffix)
            self._db = self._open()
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO objects (kind, id, seq, data) VALUES (?, ?, ?, ?)",
                                 [(k, i, seq, d) for (k, i), (seq, d) in self._mirror.items()])
            self._db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", list(self._meta.items()))
            self._db.execute("COMMIT")
            self._identity = self._file_identity()
        note = f" (the file found there is kept as {kept[0]})" if kept else ""
        return f"the store {self.path} was {what} while the engine ran: wrote the lab to it again, " \
               f"{len(self._mirror)} objects{note}"

    def _next(self) -> int:
        self._seq += 1
        return self._seq
