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
import ctypes
import os
import queue
import socket
import struct
import threading
from typing import Self

from ..osl import netns

ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
LEDGER_SIZE = 4096
SOL_RAW, ICMP_FILTER = 255, 1
SO_RCVBUFFORCE, SO_ATTACH_FILTER = 33, 26
RECV_BUFFER = 8 << 20

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

    def raw_receiver(self, proto: int, ports: tuple[int, int] | None = None) -> socket.socket:
        """Packets of one IP protocol delivered to this namespace (after its INPUT rules).

        The kernel filters before queueing, so a sandbox that many probes hit at once does not
        fill the buffer with packets that are not answers: ICMP keeps only echo replies and
        errors; TCP and UDP keep only destination ports in `ports` (the probes' source ports).
        """
        sock = self._new(socket.AF_INET, socket.SOCK_RAW, proto, "raw-recv")
        sock.setblocking(False)
        _big_buffer(sock)
        if proto == socket.IPPROTO_ICMP:
            keep = (1 << 0) | (1 << 3) | (1 << 11)  # echo reply, unreachable, time exceeded
            sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", ~keep & 0xFFFFFFFF))
        elif ports is not None:
            _attach_port_filter(sock, *ports)
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

    def out_discards(self) -> int:
        """IpOutDiscards of this namespace: packets its kernel threw away before they left."""
        try:
            with open("/proc/thread-self/net/snmp") as f:
                header, values = [line.split() for line in f if line.startswith("Ip:")][:2]
            return int(values[header.index("OutDiscards")])
        except (OSError, ValueError):
            return 0

    def interfaces(self) -> list[str]:
        return [name for _, name in socket.if_nameindex()]


def _big_buffer(sock: socket.socket) -> None:
    try:  # FORCE passes net.core.rmem_max: we hold CAP_NET_ADMIN over the lab's namespaces
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)


def _attach_port_filter(sock: socket.socket, low: int, high: int) -> None:
    """A classic BPF program (no tcpdump involved): accept when low <= TCP/UDP dport <= high."""
    program = [
        (0xB1, 0, 0, 0),  # ldxb 4*([0]&0xf)   x = IP header length
        (0x48, 0, 0, 2),  # ldh [x+2]          a = destination port
        (0x35, 0, 2, low),  # jge low ? next : drop
        (0x25, 1, 0, high),  # jgt high ? drop : accept
        (0x06, 0, 0, 0xFFFF),  # accept
        (0x06, 0, 0, 0),  # drop
    ]
    code = b"".join(struct.pack("HBBI", *ins) for ins in program)
    buffer = ctypes.create_string_buffer(code)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


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
