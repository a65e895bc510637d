"""A container's log: the main process's stdout and stderr in Docker's json-file format.

One JSON record a line, `{"log": ..., "stream": "stdout"|"stderr", "time": RFC 3339 with
nanoseconds}`, split at newlines as Docker's json-file driver does (a TTY's output is one
stream, written as it comes). The file is bounded: past LIMIT bytes it is rotated once to
`.1`, so a chatty container never fills the disk. Readers take `tail`, `since`/`until` and can
follow new records until the container stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

LIMIT = 4 * 1024 * 1024
FOLLOW_POLL = 0.5


@dataclass
class Record:
    time_ns: int
    stream: str
    data: bytes

    @property
    def timestamp(self) -> str:
        return rfc3339(self.time_ns)


def rfc3339(time_ns: int) -> str:
    secs, nanos = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{nanos:09d}Z"


def parse_time(text: str) -> int:
    """Docker's `since`/`until`: unix seconds, with an optional fraction."""
    secs, _, frac = text.partition(".")
    return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


class LogFile:
    def __init__(self, path: str, limit: int = LIMIT):
        self.path = path
        self.limit = limit
        self._partial: dict[str, bytes] = {}
        self._lock = threading.Condition()

    def write(self, stream: str, data: bytes, raw: bool = False) -> None:
        """Append output; `raw` (a TTY) writes it as it came, else line by line."""
        now = time.time_ns()
        if raw:
            chunks = [data]
        else:
            buffered = self._partial.pop(stream, b"") + data
            *chunks, rest = buffered.split(b"\n")
            chunks = [c + b"\n" for c in chunks]
            if rest:
                self._partial[stream] = rest
        self._append([Record(now, stream, c) for c in chunks if c])

    def flush(self) -> None:
        """Write what is left of unterminated lines (the process has exited)."""
        now = time.time_ns()
        self._append([Record(now, s, d) for s, d in self._partial.items() if d])
        self._partial.clear()

    def _append(self, records: list[Record]) -> None:
        if not records:
            return
        text = "".join(json.dumps({"log": r.data.decode(errors="replace"), "stream": r.stream,
                                   "time": r.timestamp}) + "\n" for r in records)
        with self._lock:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                if os.path.getsize(self.path) + len(text) > self.limit:
                    os.replace(self.path, self.path + ".1")
            with open(self.path, "a") as f:
                f.write(text)
            self._lock.notify_all()

    def remove(self) -> None:
        for path in (self.path, self.path + ".1"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    # -- reading ----------------------------------------------------------------
    def records(self, tail: int | None = None, since: int = 0, until: int = 0) -> list[Record]:
        out = []
        for path in (self.path + ".1", self.path):
            with contextlib.suppress(FileNotFoundError), open(path) as f:
                out.extend(_parse(line) for line in f if line.strip())
        out = [r for r in out if r.time_ns >= since and (not until or r.time_ns <= until)]
        return _tail(out, tail)

    def follow(self, running: Callable[[], bool], tail: int | None = None, since: int = 0,
               until: int = 0) -> Iterator[Record]:
        """The records so far, then new ones as they are written, until `running()` turns false."""
        with self._lock:  # no record may fall between the old ones and the followed ones
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            f = open(self.path, "ab+")
            f.seek(0, os.SEEK_END)
            old = self.records(tail=tail, since=since, until=until)
        try:
            yield from old
            inode = os.fstat(f.fileno()).st_ino
            while True:
                line = f.readline()
                if line.endswith(b"\n"):
                    record = _parse(line.decode())
                    if until and record.time_ns > until:
                        return
                    if record.time_ns >= since:
                        yield record
                    continue
                if line:
                    f.seek(f.tell() - len(line))
                if _rotated(self.path, inode):
                    f.close()
                    f = open(self.path, "rb")
                    inode = os.fstat(f.fileno()).st_ino
                    continue
                if not running():
                    return
                with self._lock:
                    self._lock.wait(FOLLOW_POLL)
        finally:
            f.close()


def _tail(records: list[Record], tail: int | None) -> list[Record]:
    if tail is None or tail >= len(records):
        return records
    return records[len(records) - max(tail, 0):]


def _parse(line: str) -> Record:
    d = json.loads(line)
    return Record(_time_ns(d["time"]), d["stream"], d["log"].encode())


def _time_ns(text: str) -> int:
    import calendar

    head, _, frac = text.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1_000_000_000 + int((frac + "000000000")[:9])


def _rotated(path: str, inode: int) -> bool:
    try:
        return os.stat(path).st_ino != inode
    except FileNotFoundError:
        return False
