"""Sockets opened inside lab namespaces, and only there.

A socket belongs to the network namespace it was created in, whatever thread later uses it. So
the probe code setns's the calling thread into the sandbox, creates the socket, and setns's
back. Every socket is written in a ledger with the namespace inode it was born in, so a test
can prove no probe socket ever lived in the machine's (or the engine's own) namespace.

Closing an AF_PACKET socket costs about 12 ms (the kernel waits for an RCU grace period), so
closing happens on a background thread, off the critical path of a probe or trace.
"""

from __future__ import annotations

import collections
import os
import queue
import socket
import threading
from typing import Self

from ..osl import netns

ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
LEDGER_SIZE = 4096

# (namespace name, netns inode, kind) of the most recent sockets opened by probe code.
ledger: collections.deque = collections.deque(maxlen=LEDGER_SIZE)
_ledger_lock = threading.Lock()


def _record(ns: str, kind: str) -> None:
    inode = os.stat("/proc/thread-self/ns/net").st_ino
    with _ledger_lock:
        ledger.append((ns, inode, kind))


def opened() -> list[dict]:
    with _ledger_lock:
        return [{"namespace": ns, "inode": inode, "kind": kind} for ns, inode, kind in ledger]


class Opener:
    """Opens sockets inside one namespace: `with Opener(ns) as o: s = o.raw_ip(...)`."""

    def __init__(self, ns: str):
        if not ns:
            raise ValueError("probe sockets are opened in a named lab namespace only")
        self.ns = ns
        self._ctx = None

    def __enter__(self) -> Self:
        self._ctx = netns.entered(self.ns)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._ctx.__exit__(*exc)

    def _new(self, family: int, kind: int, proto: int, label: str) -> socket.socket:
        sock = socket.socket(family, kind, proto)
        _record(self.ns, label)
        return sock

    def raw_sender(self) -> socket.socket:
        """An L3 raw socket: we write the IP header (source address included), the kernel routes."""
        sock = self._new(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW, "raw-send")
        sock.setblocking(False)
        return sock

    def raw_receiver(self, proto: int) -> socket.socket:
        """Every packet of one IP protocol delivered to this namespace (after its INPUT rules)."""
        sock = self._new(socket.AF_INET, socket.SOCK_RAW, proto, "raw-recv")
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        return sock

    def udp(self) -> socket.socket:
        return self._new(socket.AF_INET, socket.SOCK_DGRAM, 0, "udp")

    def tcp(self) -> socket.socket:
        return self._new(socket.AF_INET, socket.SOCK_STREAM, 0, "tcp")

    def packet(self, ifname: str, promisc: bool = False, proto: int = ETH_P_ALL) -> socket.socket:
        """An AF_PACKET socket on one interface: protocol 0 at socket(), then bind (6 us, not 8 ms).

        With promisc, the socket holds a promiscuous membership (a bridge then shows the frames it
        forwards between its ports); the kernel drops the membership when the socket closes.
        """
        sock = self._new(socket.AF_PACKET, socket.SOCK_RAW, 0, "packet")
        try:
            sock.bind((ifname, proto))
            if promisc:
                index = socket.if_nametoindex(ifname)
                mreq = index.to_bytes(4, "little") + PACKET_MR_PROMISC.to_bytes(2, "little") + bytes(10)
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            close_later(sock)
            raise
        return sock

    def source_address(self, dst_ip: str, port: int = 9) -> str:
        """The address the kernel of this namespace picks to reach dst_ip (no packet is sent).

        Raises OSError(ENETUNREACH) when the namespace has no route to it.
        """
        sock = self.udp()
        try:
            sock.connect((dst_ip, port or 9))
            return sock.getsockname()[0]
        finally:
            sock.close()

    def interfaces(self) -> list[str]:
        return [name for _, name in socket.if_nameindex()]


class _Closer:
    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, sock: socket.socket) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="probe-closer", daemon=True)
                self._thread.start()
        self._queue.put(sock)

    def _run(self) -> None:
        while True:
            sock = self._queue.get()
            try:
                sock.close()
            except OSError:
                pass


_closer = _Closer()


def close_later(*socks: socket.socket) -> None:
    for sock in socks:
        if sock is not None:
            _closer.put(sock)
