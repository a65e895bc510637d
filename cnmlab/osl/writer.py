"""The writer thread: a sandbox's userland set up in the background, in order.

Most of a sandbox's embedded-DNS nat batch is kernel time (registering NAT and conntrack in the
fresh namespace, about 0.3 ms), spent without the GIL, and so is opening its resolver's
sockets. A thread of its own does them on the other core while the kernel thread goes on with
the join, the reply, or a batch's next containers. It also makes the spare namespaces that new
sandboxes take (osl/spares.py), after the writes queued before them.
Whoever touches that namespace's rules next (osl/iptables.run_in), or drops the namespace,
waits for the write first (`settle`), so rules keep their order and never land in a later
namespace of the same name.
"""

from __future__ import annotations

import _thread
import queue
import threading
from collections.abc import Callable

_queue: queue.SimpleQueue = queue.SimpleQueue()
_thread_started = False
_start_lock = threading.Lock()
_inflight: dict[str, Job] = {}  # namespace -> its write, until done
_here = threading.local()


class Job:
    """One write's outcome, as much of a Future as its callers use (done, exception). A Future
    costs a Condition and its callbacks; this is one lock, held until the write is done."""

    __slots__ = ("ns", "write", "error", "_done")

    def __init__(self, ns: str, write: Callable[[], None]) -> None:
        self.ns, self.write, self.error = ns, write, None
        self._done = _thread.allocate_lock()
        self._done.acquire()

    def done(self) -> bool:
        return not self._done.locked()

    def exception(self) -> BaseException | None:
        """Wait for the write; what it raised, or None."""
        if self._done.locked():
            self._done.acquire()
            self._done.release()
        return self.error


def submit(ns: str | None, write: Callable[[], None]) -> Job:
    """Run `write` (rules into namespace `ns`; None: no namespace of a name, as a spare's
    making) on the writer thread; return its job."""
    global _thread_started
    if not _thread_started:
        with _start_lock:
            if not _thread_started:
                threading.Thread(target=_run, name="nft-writer", daemon=True).start()
                _thread_started = True
    job = Job(ns, write)
    if ns is not None:  # what `settle` waits for
        _inflight[ns] = job
    _queue.put(job)
    return job


def _run() -> None:
    _here.writing = True
    while True:
        job = _queue.get()
        try:
            job.write()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the job
            job.error = exc
        if _inflight.get(job.ns) is job:
            del _inflight[job.ns]
        job._done.release()


def settle(ns: str | None) -> None:
    """Wait for the background write into `ns`, if one is in flight (not from the writer itself:
    a write may fall back to iptables-restore in the same namespace)."""
    job = _inflight.get(ns) if ns is not None else None
    if job is not None and not getattr(_here, "writing", False):
        job.exception()  # waits; the write's own caller learns of a failure from its future


def settle_all() -> None:
    """Wait for every write submitted so far (they run in order: the last of each namespace's
    done means all before it are), unless called from the writer itself."""
    if not getattr(_here, "writing", False):
        for job in list(_inflight.values()):
            job.exception()
