"""Is the store whole? Checked before the engine trusts it, so a damaged file stops the engine with
one line instead of a lab quietly rebuilt from an older state.

Two checks:
- the write-ahead log: SQLite skips every frame after the first one whose checksum fails, without
  a word. Frames of the current WAL generation (same salts as the header) after a bad frame are
  acknowledged changes that would be lost; frames left from an older generation (other salts) are
  normal leftovers of a checkpoint and are fine.
- `PRAGMA quick_check` on the database itself.

`move_aside` is the way out (`cnmlab reset --force`): the damaged files are renamed, never deleted.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import time
from pathlib import Path

from .errors import CnmError

WAL_MAGIC = {0x377F0682: "<", 0x377F0683: ">"}  # checksum word order
WAL_HEADER, FRAME_HEADER = 32, 24
WAY_OUT = "`cnmlab reset --force` moves it aside (kept) and starts an empty lab"


class StoreDamaged(CnmError):
    status = 500

    def __init__(self, path: str, why: str):
        super().__init__(f"the lab's store {path} is damaged ({why}): {WAY_OUT}")
        self.path, self.why = path, why


def check(path: str) -> None:
    """Raise StoreDamaged if the store at `path` (and its WAL) cannot be trusted."""
    if path == ":memory:" or not os.path.exists(path):
        return
    check_wal(path)
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise StoreDamaged(path, str(exc)) from None
    if rows != [("ok",)]:
        raise StoreDamaged(path, "; ".join(r[0] for r in rows[:3]))


def check_wal(path: str) -> None:
    wal = f"{path}-wal"
    try:
        data = Path(wal).read_bytes()
    except FileNotFoundError:
        return
    if not data:
        return
    if len(data) < WAL_HEADER:
        raise StoreDamaged(wal, "its write-ahead log is cut short")
    magic, _version, page_size, _seq, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:WAL_HEADER])
    order = WAL_MAGIC.get(magic)
    if order is None:
        raise StoreDamaged(wal, "its write-ahead log has no valid header")
    if _checksum(data[:24], order, 0, 0) != (c1, c2):
        raise StoreDamaged(wal, "its write-ahead log header fails its checksum")
    frame = FRAME_HEADER + page_size
    sums, end = (c1, c2), None  # end: where this generation's valid frames stop
    for offset in range(WAL_HEADER, len(data) - frame + 1, frame):
        head = data[offset:offset + FRAME_HEADER]
        _page, _commit, f_salt1, f_salt2, f_c1, f_c2 = struct.unpack(">6I", head)
        ours = (f_salt1, f_salt2) == (salt1, salt2)
        if end is None:
            if ours:
                sums = _checksum(head[:8] + data[offset + FRAME_HEADER:offset + frame], order, *sums)
                if sums == (f_c1, f_c2):
                    continue
                raise StoreDamaged(wal, f"its write-ahead log fails its checksum at byte {offset}")
            end = offset  # an older generation's leftovers, or garbage: the log should end here
        elif ours:
            raise StoreDamaged(wal, f"its write-ahead log is damaged at byte {end}, before changes it acknowledged")


def _checksum(data: bytes, order: str, s0: int, s1: int) -> tuple[int, int]:
    for x0, x1 in struct.iter_unpack(order + "2I", data):
        s0 = (s0 + x0 + s1) & 0xFFFFFFFF
        s1 = (s1 + x1 + s0) & 0xFFFFFFFF
    return s0, s1


def move_aside(path: str, why: str = "damaged") -> list[str]:
    """Rename the store and its WAL/SHM files to `<name>.<why>-<time>`; return the new names."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = []
    for suffix in ("", "-wal", "-shm"):
        src = f"{path}{suffix}"
        if os.path.exists(src):
            dst = f"{path}.{why}-{stamp}{suffix}"
            os.replace(src, dst)
            moved.append(dst)
    return moved
