"""Sandboxes' network namespaces made ahead of time, on a thread of their own.

A sandbox's namespace is the same every time until it is named: unshared, IPv6 off, lo up, with
a netlink socket inside. That is about 1.2 ms of kernel work, a third of a container's build,
and the kernel thread would otherwise do it on a request's path. The pool's thread makes a few
ahead while the kernel thread has nothing to do (between a client's requests), so `run` only
names one (a bind mount at /run/netns/NAME). A namespace in the pool is an fd held by the engine, not a mount: no listing shows
it, and it is gone with the engine.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable

from . import syscalls, world
from .rtnl import Rtnl

SIZE = 4  # namespaces kept ready: a burst of requests drains them, the thread refills

# Set while the lab's kernel thread waits for work (engine/kernel_thread.py clears it while it
# works). The pool makes namespaces only then: making one takes the kernel's rtnl lock, which
# the kernel thread's own veths need too, so in a batch the two would only wait for each other
# (measured: the sandbox's veth 1.2 → 3-6 ms). Between a client's requests the kernel thread is idle.
kernel_idle = threading.Event()
kernel_idle.set()  # no kernel thread (a plain library user): always


class NamespacePool:
    """Ready namespaces of the world this process is in, each (namespace fd, its netlink socket)."""

    def __init__(self, make: Callable[[], tuple[int, Rtnl]], size: int = SIZE) -> None:
        self._make = make
        self._ready: queue.Queue[tuple[int, Rtnl]] = queue.Queue(maxsize=size)
        self.generation = world.generation
        self._closed = False
        self._thread = threading.Thread(target=self._fill, name="netns-pool", daemon=True)
        self._thread.start()

    def take(self) -> tuple[int, Rtnl] | None:
        """A ready namespace, or None (none made yet, or the world changed: make one in place)."""
        if self.generation != world.generation:
            return None
        with contextlib.suppress(queue.Empty):
            return self._ready.get_nowait()
        return None

    def ready(self) -> int:
        return self._ready.qsize()

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                fd, sock = self._ready.get_nowait()
            except queue.Empty:
                break
            drop(fd, sock)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)  # it drops what it was making

    def _fill(self) -> None:
        # Home is the world's namespace, the process's own (/proc/self is the main thread's),
        # whichever namespace the thread that started the pool was in at the time.
        home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            syscalls.setns(home, syscalls.CLONE_NEWNET)
        finally:
            os.close(home)
        while not self._closed and self.generation == world.generation:
            kernel_idle.wait()
            try:
                made = self._make()
            except OSError:
                return  # the world is going (or out of resources): sandboxes are made in place
            self._ready.put(made)  # waits while the pool is full; close() empties it
            if self._closed:
                self.close()  # put after close() had emptied it
                return


def drop(fd: int, sock: Rtnl) -> None:
    sock.close()
    os.close(fd)
