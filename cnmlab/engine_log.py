"""engine.log: private (0600) and rotated, so a long-lived engine cannot fill the disk.

The engine's stdout and stderr are the log file. When it grows past MAX_BYTES it is renamed to
engine.log.1 (the previous .1 becomes .2, the .2 goes) and a fresh file takes over fds 1 and 2.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

MAX_BYTES = 2 << 20
KEEP = 2  # engine.log.1, engine.log.2
CHECK_EVERY = 30.0  # seconds


def open_private(path: Path) -> int:
    """An fd appending to `path`, created 0600 (and made 0600 if it was not)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o600)
    return fd


def rotate(path: Path) -> bool:
    """Shift path -> path.1 -> path.2 when path is over MAX_BYTES; True if it did."""
    try:
        if path.stat().st_size <= MAX_BYTES:
            return False
    except FileNotFoundError:
        return False
    for n in range(KEEP - 1, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}.{n}", f"{path}.{n + 1}")
    os.replace(path, f"{path}.1")
    return True


def keep_rotated(path: Path, stop: threading.Event) -> threading.Thread:
    """In the engine: rotate its own log (fds 1 and 2) while it runs."""

    def loop() -> None:
        while not stop.wait(CHECK_EVERY):
            check(path)

    thread = threading.Thread(target=loop, name="log-rotation", daemon=True)
    thread.start()
    return thread


def check(path: Path) -> None:
    try:
        if os.fstat(2).st_size <= MAX_BYTES or not os.path.samestat(os.fstat(2), path.stat()):
            return  # small, or stderr is not this log (a terminal, a test's pipe)
    except OSError:
        return
    if rotate(path):
        fd = open_private(path)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
