"""Many namespaces' iptables batches at once: one iptables-restore per namespace, in parallel.

A batch costs a process (4 ms on an idle machine, 25 ms on a busy one) mostly spent starting up;
N sandboxes' batches run side by side instead of one after another.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

from . import iptables

WORKERS = 8
_background: ThreadPoolExecutor | None = None


def start(ns: str, tables: dict[str, list[str]]) -> Future:
    """Begin one namespace's batch on a background process pool and return at once.

    The caller (the kernel thread) goes on building while the process runs on the other core;
    it waits for the future later, before anyone can observe the rules."""
    global _background
    if _background is None:
        _background = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="iptables-bg")
    return _background.submit(iptables.restore, ns, tables)


def restore_many(batches: list[tuple[str, dict[str, list[str]]]]) -> list[tuple[str, Exception]]:
    """Apply each (namespace, tables) batch; return the ones that failed, with their error."""
    if len(batches) <= 1:
        failures = []
        for ns, tables in batches:
            try:
                iptables.restore(ns, tables)
            except iptables.IptablesError as exc:
                failures.append((ns, exc))
        return failures
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(batches)), thread_name_prefix="iptables") as pool:
        futures = [(ns, pool.submit(iptables.restore, ns, tables)) for ns, tables in batches]
    return [(ns, f.exception()) for ns, f in futures if f.exception() is not None]
