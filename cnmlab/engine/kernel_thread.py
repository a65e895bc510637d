"""The kernel thread: every change to the lab runs here, one step at a time, and none waits on a plugin.

Netlink handles belong to the thread that opened them, so the lab is changed from one thread.
A change that calls a remote plugin would hold that thread until the plugin answers (or its
CNMLAB_PLUGIN_TIMEOUT). Instead each change runs in a greenlet on the thread; at a plugin call
it hands the HTTP exchange to the plugin's lane (one thread per plugin, calls in order) and
parks. The thread meanwhile runs other work, and takes the parked change up again when the
plugin has answered. Only one change runs at any moment, so the lab's structures need no locks;
what a parked change leaves is the lab between two of its steps.

A parked change holds the objects it works on: the names and ids its request mentions (`holds`,
resolved to both) and those its plugin call concerns. Work that mentions one of them, or that
declares no holds (it may touch anything: a reset, a prune, a host, a process's exit), waits
until the holder is done; so does work behind it that shares a hold, so each object's changes
keep their order. Reads (`READ`) never wait for a parked change: they run whenever the thread
is free, and a client's request (`reads_between`) that emits an event lets waiting reads run
there, between two of its steps. The engine's own follow-up work is seen whole.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import greenlet

from ..errors import CnmError

EVERYTHING = None  # the holds of work that may touch any object
READ = frozenset({"\0read"})  # the holds of a read: it waits for nothing and nothing waits for it
Holds = frozenset[str] | None


@dataclass(eq=False)
class _Work:
    fn: Callable
    args: tuple
    kwargs: dict
    future: Future
    refs: Holds  # as submitted; `holds` is what they resolve to, when it matters (`_resolve`)
    holds: Holds = None
    resolved: bool = False
    reads_between: bool = False  # a client's request: reads may run between its steps
    parked: dict = field(default_factory=dict)  # what the parking hooks handed back, restored on waking
    greenlet: Any = None


class KernelThread:
    def __init__(self, resolve: Callable[[Iterable[str]], set[str]] = set,
                 on_park: list[tuple[Callable[[], Any], Callable[[Any], None]]] | None = None):
        self.resolve = resolve  # names and ids -> every name and id of the objects they mention
        self.on_park = on_park if on_park is not None else []  # (park, wake) pairs, e.g. the store's batch
        self._inbox: queue.Queue = queue.Queue()
        self._waiting: list[_Work] = []  # admitted in order, when nothing they hold is held
        self._parked: set[_Work] = set()
        self._running: _Work | None = None
        self._serving_reads = False
        self._lanes: dict[str, ThreadPoolExecutor] = {}
        self._lanes_lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="kernel", daemon=True)
        self.thread.start()

    # -- the interface ThreadPoolExecutor had -------------------------------------------
    def submit(self, fn: Callable, *args, holds: Holds = EVERYTHING, reads_between: bool = False, **kwargs) -> Future:
        """Queue fn(*args, **kwargs). `reads_between`: a client's request, whose events let reads run
        before it ends; the engine's own follow-up work (a replica replaced after `rm`, a process's
        exit) is short and is seen whole, so a read after `rm` sees what the removal set off."""
        future: Future = Future()
        self._inbox.put(_Work(fn, args, kwargs, future, holds if holds is None else frozenset(holds),
                              reads_between=reads_between))
        return future

    def shutdown(self) -> None:
        self._inbox.put(None)
        for lane in list(self._lanes.values()):
            lane.shutdown(wait=False, cancel_futures=True)

    # -- what changes call -------------------------------------------------------------
    def off_thread(self, lane: str, fn: Callable[[], Any], concerns: Iterable[str] = ()) -> Any:
        """fn() on the lane named `lane`; a change waits parked, the thread goes on with other work.
        Called anywhere else (an HTTP thread, a read), it simply runs fn() here."""
        work = self._running
        if (threading.current_thread() is not self.thread or work is None or self._serving_reads
                or greenlet.getcurrent().parent is None):
            return fn()
        if work.refs is not READ:
            if not work.resolved:  # admitted with nothing parked: its holds are looked up as it parks
                self._resolve(work)
            if work.holds is not None:
                work.holds = work.holds | self.resolve(concerns)
        me = greenlet.getcurrent()
        work.parked = {i: park() for i, (park, _) in enumerate(self.on_park)}
        self._parked.add(work)
        self._lane(lane).submit(fn).add_done_callback(lambda done: self._inbox.put((me, done)))
        self._running = None
        done: Future = me.parent.switch()  # back to the loop, until the lane has an answer
        return done.result()

    def serve_reads(self) -> None:
        """Between two steps of a change (it just emitted an event): run the reads waiting now."""
        running = self._running
        if (threading.current_thread() is not self.thread or running is None or not running.reads_between
                or self._serving_reads):
            return
        if self._inbox.queue:  # looked at without the lock (~7 times a container): an item missed now waits one step
            self._drain_inbox()
        reads = [w for w in self._waiting if w.refs is READ]
        if not reads:
            return
        self._serving_reads = True
        try:
            for work in reads:
                try:
                    work.future.set_result(work.fn(*work.args, **work.kwargs))
                except CnmError as exc:
                    work.future.set_exception(exc)
                except Exception:  # noqa: BLE001 - mid-change the lab could not answer it: ask again after
                    continue
                self._waiting.remove(work)
        finally:
            self._serving_reads = False

    # -- the loop ------------------------------------------------------------------------
    def _lane(self, name: str) -> ThreadPoolExecutor:
        with self._lanes_lock:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"plugin-{name}")
            return lane

    def _loop(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            try:
                self._take(item)
                self._drain_inbox(run=True)
                self._admit()
            except Exception:  # a cnmlab bug: say it, and keep the lab's one thread alive
                traceback.print_exc()

    def _drain_inbox(self, run: bool = False) -> None:
        """Queue every new piece of work (and, from the loop, wake changes whose plugin answered)."""
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self._inbox.put(None)
                return
            if isinstance(item, _Work) or run:
                self._take(item)
            else:
                self._inbox.put(item)  # a plugin's answer: the loop wakes its change
                return

    def _take(self, item) -> None:
        if isinstance(item, _Work):
            if item.future.set_running_or_notify_cancel():
                self._waiting.append(item)
            return
        me, done = item
        work = next(w for w in self._parked if w.greenlet is me)
        self._parked.discard(work)
        for i, (_, wake) in enumerate(self.on_park):
            wake(work.parked.get(i))
        self._switch(work, done)

    def _admit(self) -> None:
        """Run waiting work, first come first served, skipping what a parked change (or work ahead
        of it) holds; after each run look again from the start: the lab and the queue changed."""
        while self._admit_one():
            pass

    def _admit_one(self) -> bool:
        ahead: list[Holds] = [w.holds for w in self._parked]
        for work in self._waiting:
            if work.refs is not READ and ahead:  # with nothing parked or held up, nothing to check it against
                self._resolve(work)
                if any(_overlap(work.holds, h) for h in ahead):
                    ahead.append(work.holds)  # work behind it on the same objects keeps its place
                    continue
            self._waiting.remove(work)
            work.greenlet = greenlet.greenlet(self._run)
            self._switch(work, work)
            return True
        return False

    def _resolve(self, work: _Work) -> None:
        """What the work's refs hold, looked up now. Only when a change is parked (it is checked
        against it) or parks itself (others are checked against it): the look-ups of every name a
        request mentions cost 50 us a request, and most of the time nothing is parked."""
        work.holds = None if work.refs is None else frozenset(self.resolve(work.refs))
        work.resolved = True

    def _switch(self, work: _Work, value) -> None:
        self._running = work
        try:
            work.greenlet.switch(value)
        finally:
            self._running = None

    def _run(self, work: _Work) -> None:
        try:
            work.future.set_result(work.fn(*work.args, **work.kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            work.future.set_exception(exc)


def _overlap(a: Holds, b: Holds) -> bool:
    if a is READ or b is READ:
        return False
    return a is None or b is None or not a.isdisjoint(b)
