"""The writer thread: rules written into a namespace in the background, in order.

Most of a sandbox's embedded-DNS nat batch is kernel time (registering NAT and conntrack in the
fresh namespace, about 0.3 ms), spent without the GIL. A thread of its own does it on the other
core while the kernel thread goes on with the join, the reply, or a batch's next containers.
Whoever touches that namespace's rules next (osl/iptables.run_in), or drops the namespace,
waits for the write first (`settle`), so rules keep their order and never land in a later
namespace of the same name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

_pool: ThreadPoolExecutor | None = None
_inflight: dict[str, Future] = {}  # namespace -> its write, until done
_here = threading.local()


def submit(ns: str, write: Callable[[], None]) -> Future:
    """Run `write` (rules into namespace `ns`) on the writer thread; return its future."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nft-writer")

    def run() -> None:
        _here.writing = True
        try:
            write()
        finally:
            _here.writing = False

    job = _inflight[ns] = _pool.submit(run)
    job.add_done_callback(lambda done: _inflight.pop(ns, None) if _inflight.get(ns) is done else None)
    return job


def settle(ns: str | None) -> None:
    """Wait for the background write into `ns`, if one is in flight (not from the writer itself:
    a write may fall back to iptables-restore in the same namespace)."""
    job = _inflight.get(ns) if ns is not None else None
    if job is not None and not getattr(_here, "writing", False):
        job.exception()  # waits; the write's own caller learns of a failure from its future
