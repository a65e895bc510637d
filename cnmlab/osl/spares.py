"""Spare network namespaces, made ahead on the writer thread.

Half of a container's kernel work is its namespace (unshare, IPv6 off, its netlink socket, lo
up), and none of it depends on the container. The writer thread (osl/writer.py) keeps a few
made on the other core, and a new sandbox takes one and only bind-mounts it under its name. The
kernel lets the two threads overlap: the floor's own steps with the namespaces made on one
thread and the veths plugged on another took 0.88 ms a container against 1.22 ms on one thread
(300 containers, docs/benchmarks.md, session 9).

A spare is in no /run/netns entry (`ip netns` does not list it): only its fd and its netlink
socket hold it. It is never waited for: when none is ready, the sandbox makes its own namespace.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

from . import world, writer
from .netns import Unnamed

KEEP = 2  # ready or being made: a batch's next container finds one while the writer makes the one after


class Spares:
    def __init__(self, inside: Callable[[], list] | None = None) -> None:
        self.inside = inside  # run inside each spare as it is made; what it opens goes with the spare
        self._ready: collections.deque[Unnamed] = collections.deque()
        self._asked = 0  # counted on the taking thread
        self._made = 0  # counted on the writer thread: asked - made are being made
        self._generation = world.generation
        self._closed = False
        self._last: writer.Job | None = None  # the last making asked for: the others ran before it

    def take(self) -> Unnamed | None:
        """A ready spare, or None."""
        if self._generation != world.generation:  # made in another world: of no use in this one
            self._drop_ready()
            self._generation = world.generation
        return self._ready.popleft() if self._ready else None

    def refill(self) -> None:
        """Have the writer make spares up to KEEP. Called once a new sandbox's own writes are
        queued: they run first, and a request waits for them (its resolver), not for a spare."""
        while len(self._ready) + self._asked - self._made < KEEP and not self._closed:
            self._asked += 1
            self._last = writer.submit(None, self._make)

    def close(self) -> None:
        """Free every spare (those being made first)."""
        self._closed = True
        if self._last is not None:
            self._last.exception()
        self._drop_ready()

    def _make(self) -> None:
        try:
            spare = Unnamed(inside=self.inside)  # failing, the next sandbox makes its own and says why
        finally:
            self._made += 1
        if self._closed:
            spare.close()
        else:
            self._ready.append(spare)

    def _drop_ready(self) -> None:
        while self._ready:
            self._ready.popleft().close()
