"""Named network namespaces, created cheaply, and the netlink handle for each.

Creating a namespace with pyroute2's `netns.create()` forks twice (about 15 ms); unsharing in
the calling thread, bind-mounting it and opening the netlink socket there costs about 0.3 ms.
Only the calling thread changes namespace, so this is safe from the engine's kernel thread.
All handles belong to the thread that opened them: use one `Namespaces` per thread.
"""

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator

from pyroute2 import IPRoute

from . import syscalls, world, writer
from .rtnl import Rtnl
from .world import NETNS_DIR

LOOPBACK_INDEX = 1  # lo is always the first link of a namespace


def path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


def exists(name: str) -> bool:
    return os.path.exists(path(name))


def listed() -> list[str]:
    """The named namespaces of the world, without those being dropped in the background."""
    names = os.listdir(NETNS_DIR) if os.path.isdir(NETNS_DIR) else []
    # Pending first, then existence: the reaper unlinks a mount point before it stops being
    # pending, so one dropped between the listdir and this check is not listed either.
    return sorted(n for n in names if not reaper.pending(path(n)) and os.path.exists(path(n)))


@contextlib.contextmanager
def entered(name: str | None) -> Iterator[None]:
    """Run the body with this thread inside namespace `name` (None: stay where we are)."""
    if name is None:
        yield
        return
    target = os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)
    with away("net") as home:
        try:
            syscalls.setns(target, syscalls.CLONE_NEWNET)
        finally:
            os.close(target)
        try:
            yield
        finally:
            syscalls.setns(home, syscalls.CLONE_NEWNET)


@contextlib.contextmanager
def away(kind: str) -> Iterator[int]:
    """An fd of the `kind` ("net", "uts") namespace this thread is in, to go back to after leaving it.

    A thread always comes back, so its home namespaces are the same at every call: their fds are
    opened once per thread and world (a container leaves home four times, and each open of
    /proc/thread-self is a lookup). Nested, the thread is not at home: a fresh fd, as before."""
    homes = getattr(_local, "homes", None)
    if homes is None:
        homes = _local.homes = _Homes()
    if homes.away:
        fd = os.open(f"/proc/thread-self/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            yield fd
        finally:
            os.close(fd)
        return
    fd = homes.fd(kind)
    homes.away = True
    try:
        yield fd
    finally:
        homes.away = False


class _Homes:
    """One thread's home namespace fds; closed when the thread ends (its thread-local goes)."""

    def __init__(self) -> None:
        self.fds: dict[str, int] = {}
        self.generation = world.generation
        self.away = False

    def fd(self, kind: str) -> int:
        if self.generation != world.generation:  # a new world: the fds kept are of the old one
            self.close()
            self.generation = world.generation
        fd = self.fds.get(kind)
        if fd is None:
            fd = self.fds[kind] = os.open(f"/proc/thread-self/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        return fd

    def close(self) -> None:
        fds, self.fds = self.fds, {}
        for fd in fds.values():
            os.close(fd)

    def __del__(self) -> None:
        self.close()


_local = threading.local()


UTS_DIR = "/run/uts"


def uts_path(name: str) -> str:
    return os.path.join(UTS_DIR, name)


def create_uts(name: str, hostname: str) -> None:
    """A UTS namespace holding the sandbox's hostname, bind-mounted at /run/uts/NAME."""
    target = uts_path(name)
    reaper.settle(target)
    try:
        _touch(target)
    except FileNotFoundError:  # the first UTS namespace of this world
        os.makedirs(UTS_DIR, exist_ok=True)
        _touch(target)
    try:
        with away("uts") as home:
            syscalls.unshare(syscalls.CLONE_NEWUTS)
            try:
                syscalls.sethostname(hostname)
                syscalls.mount("/proc/thread-self/ns/uts", target, None, syscalls.MS_BIND)
            finally:
                syscalls.setns(home, syscalls.CLONE_NEWUTS)
    except BaseException:
        delete_uts(name)
        raise


def bind(name: str, source: str) -> None:
    """Give namespace `source` a second name (Docker's `container:NAME` mode): /run/netns/NAME is
    a bind mount of it, which keeps the namespace alive after `source`'s own name is gone."""
    target = path(name)
    reaper.settle(target)
    if os.path.exists(target):
        raise FileExistsError(f"namespace {name} exists")
    _touch(target)
    try:
        syscalls.mount(path(source), target, None, syscalls.MS_BIND)
    except BaseException:
        drop_bind_mount(target)
        raise


def delete_uts(name: str, background: bool = False) -> None:
    (reaper.drop if background else drop_bind_mount)(uts_path(name))


def drop_bind_mount(target: str, directory: bool = False) -> None:
    """Undo a namespace's bind mount and remove its mount point; a missing one is fine."""
    with contextlib.suppress(OSError):
        syscalls.umount(target)
    with contextlib.suppress(FileNotFoundError):
        (os.rmdir if directory else os.unlink)(target)


class Reaper:
    """Drops bind mounts on its own thread, so removing a container does not wait for them.

    An unmount waits for the machine's mount lock and an RCU grace period (0.5-1.5 ms each
    under load; a container has two). Nobody needs them gone at once: the sandbox is already
    forgotten, and the kernel frees the namespace after the last reference anyway. A burst of
    removals is dropped once it ends (no drop for QUIET s; at the latest AGE s or MOST mounts
    after its first): the kernel's worker freeing each namespace as its mount went ran on the
    same two cores as the next removals, and made them 25% slower on average (docs/
    benchmarks.md, session 9). Making a namespace of the same name waits for its old mount
    (`settle`), which drops what is queued at once."""

    QUIET, AGE, MOST = 0.005, 1.0, 1024

    def __init__(self) -> None:
        self._pending: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def drop(self, target: str) -> None:
        with self._lock:
            if target in self._pending:
                return
            self._pending[target] = threading.Event()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="netns-reaper", daemon=True)
                self._thread.start()
        self._queue.put(target)

    def pending(self, target: str) -> bool:
        return target in self._pending

    def settle(self, target: str | None = None) -> None:
        """Wait until `target` (None: everything queued so far) is gone."""
        if target is not None and target not in self._pending:
            return
        with self._lock:
            waits = [done for done in (self._pending.values() if target is None else [self._pending.get(target)])
                     if done is not None]
        if waits:
            self._queue.put(_NOW)  # behind every target it waits for
        for done in waits:
            done.wait()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            burst = [] if item is _NOW else [item]
            ends = time.monotonic() + self.AGE
            while burst and len(burst) < self.MOST and (left := ends - time.monotonic()) > 0:
                try:
                    item = self._queue.get(timeout=min(self.QUIET, left))
                except queue.Empty:
                    break
                if item is _NOW:
                    break
                burst.append(item)
            for target in burst:
                drop_bind_mount(target)
                with self._lock:
                    self._pending.pop(target).set()


_NOW = object()  # in the reaper's queue: someone waits, drop the burst now


reaper = Reaper()


class _SysctlProc:
    """The procfs sysctls are written through: one of the world's own, mounted afresh now and then.

    The first /proc/sys lookup in a new namespace walks a cached dentry of every namespace that
    looked before it (they share one hash chain, and each is skipped as not its own): 0.17 ms in
    the first of 1000 sandboxes, 1.7 ms in the last, the main reason a container cost more the
    more there were. A procfs instance has dentries of its own, so a fresh one every
    `EVERY` writes keeps that walk short; the one before is detached (nothing keeps it open).
    Outside a world, or where procfs cannot be mounted (rootless: the pid namespace is not the
    world's), sysctls go through /proc."""

    EVERY = 64  # writes: 64 sandboxes (IPv6 off)
    DIR = "/run/cnmlab-proc"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root, self._writes, self._mounts, self._generation = "/proc", 0, 0, 0
        self._mountable = False  # inside a world that has not refused a procfs mount yet

    def open(self, key: str) -> int:
        """An fd to write sysctl `key` of the calling thread's namespace. Opened under the lock:
        the spares' thread writes too (osl/spares.py), and a remount detaches the old root."""
        with self._lock:
            if self._generation != world.generation:  # a (new) world: its own /run, nothing mounted yet
                self._root, self._writes, self._generation = "/proc", 0, world.generation
                self._mountable = True
            if self._mountable and self._writes % self.EVERY == 0:
                self._remount()
            self._writes += 1
            return os.open(self._root + "/sys/" + key.replace(".", "/"), os.O_WRONLY | os.O_CLOEXEC)

    def _remount(self) -> None:
        target = f"{self.DIR}/{self._mounts}"
        try:
            os.makedirs(target, exist_ok=True)
            syscalls.mount("proc", target, "proc", syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC)
        except OSError:
            self._mountable = False  # not here (rootless): the current root from now on
            return
        old, self._root, self._mounts = self._root, target, self._mounts + 1
        if old != "/proc":
            drop_bind_mount(old, directory=True)


_sysctl_proc = _SysctlProc()


def write_sysctl(key: str, value: str) -> None:
    """Write a sysctl of the namespace the calling thread is in."""
    fd = _sysctl_proc.open(key)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _touch(target: str, exclusive: bool = False) -> None:
    """An empty file to bind-mount a namespace on (os.open: a plain open() adds 3 syscalls).
    exclusive: FileExistsError if it is there (one lookup, not a stat first)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if exclusive else os.O_TRUNC)
    os.close(os.open(target, flags, 0o644))


class Unnamed:
    """A network namespace made but not yet named: its fd and its netlink socket, lo up, IPv6
    off unless asked, and what `inside()` opened in it (sockets stay in the namespace they were
    made in). Made on any thread; `close()` frees it unless `Namespaces.adopt` named it."""

    __slots__ = ("fd", "rtnl", "extra")

    def __init__(self, ipv6: bool = False, forwarding: bool = False, inside: Callable[[], list] | None = None) -> None:
        self.fd, self.rtnl, self.extra = -1, None, []
        try:
            with away("net") as home:
                syscalls.unshare(syscalls.CLONE_NEWNET)
                try:
                    self.fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                    if not ipv6:
                        # Docker disables IPv6 in sandboxes; it also keeps big bridges linear
                        # (no DAD/RS/MLD flooding for every new port). Writing `all` sets
                        # `default` too (addrconf_disable_ipv6), so links made later have it off.
                        write_sysctl("net.ipv6.conf.all.disable_ipv6", "1")
                    if forwarding:
                        write_sysctl("net.ipv4.ip_forward", "1")
                    self.rtnl = Rtnl()
                    if inside is not None:
                        self.extra = inside()
                finally:
                    syscalls.setns(home, syscalls.CLONE_NEWNET)
            self.rtnl.request([Rtnl.up_message(LOOPBACK_INDEX)])
        except BaseException:
            self.close()  # what was made so far: nothing holds the namespace any more
            raise

    def named(self) -> Rtnl:
        """Its netlink socket, once a bind mount holds the namespace (the fd is no longer needed)."""
        os.close(self.fd)
        return self.rtnl

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        if self.rtnl is not None:
            self.rtnl.close()
        for sock in self.extra:
            sock.close()


class Namespaces:
    """Creates and removes named namespaces and keeps one netlink handle open per namespace."""

    def __init__(self) -> None:
        self._handles: dict[str | None, IPRoute] = {}
        self._rtnl: dict[str | None, Rtnl] = {}  # bare sockets for the hot path (osl/rtnl.py)

    def rtnl(self, name: str | None) -> Rtnl:
        """The bare rtnetlink socket of namespace `name`, for the few hot-path messages."""
        return self._opened_in(self._rtnl, name, Rtnl)

    def ipr(self, name: str | None) -> IPRoute:
        """The netlink handle of namespace `name` (None: the world's own namespace)."""
        return self._opened_in(self._handles, name, IPRoute)

    @staticmethod
    def _opened_in(cache: dict, name: str | None, factory):
        """A netlink socket binds to the namespace it is opened in: open it there, once."""
        sock = cache.get(name)
        if sock is None:
            with entered(name):
                sock = cache[name] = factory()
        return sock

    def create(self, name: str, ipv6: bool = False, forwarding: bool = False, handle: bool = True) -> IPRoute | None:
        """Make namespace `name` with lo up; return its pyroute2 handle (handle=False: open none
        now, saving about 0.3 ms; `ipr(name)` still opens one on first use)."""
        self.adopt(name, Unnamed(ipv6=ipv6, forwarding=forwarding))
        return self.ipr(name) if handle else None

    def adopt(self, name: str, made: Unnamed) -> None:
        """Give `made` the name `name` (a bind mount); `made` is used up, whether or not this fails."""
        target = path(name)
        reaper.settle(target)
        try:
            _touch(target, exclusive=True)
        except FileExistsError:
            made.close()
            raise FileExistsError(f"namespace {name} exists") from None
        try:
            syscalls.mount(f"/proc/self/fd/{made.fd}", target, None, syscalls.MS_BIND)
        except BaseException:
            made.close()
            self.delete(name)
            raise
        self._rtnl[name] = made.named()

    def delete(self, name: str, background: bool = False) -> None:
        """Drop the namespace; the kernel removes its links (about 0.7 ms, not 20 ms per veth).
        background: unmount it on the reaper's thread (the caller does not wait)."""
        writer.settle(name)  # a write still in flight must not land in a namespace made later under this name
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.close()  # an open handle would keep the namespace and its veths alive
        sock = self._rtnl.pop(name, None)
        if sock is not None:
            sock.close()
        if background:
            reaper.drop(path(name))
        else:
            self._unmount(name)

    def close(self) -> None:
        reaper.settle()
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
        for sock in self._rtnl.values():
            sock.close()
        self._rtnl.clear()

    @staticmethod
    def _unmount(name: str) -> None:
        drop_bind_mount(path(name))
