"""The engine side of 127.0.0.11: one thread answers the DNS sockets of every sandbox.

Each sandbox has a UDP socket and a TCP listener opened inside its namespace (see sandbox.py);
a socket remembers its namespace, so one selector serves them all without a process per
container. Answers are built with dnslib and look like Docker's: flags 0x8180 (QR, RD echoed,
RA=1, AA=0), TTL 600, addresses shuffled. Nothing is ever forwarded: a name the lab does not
know gets NXDOMAIN at once (Docker would ask the host's resolvers, which the lab has none of).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from collections.abc import Callable

from dnslib import PTR, QTYPE, RCODE, RR, A, DNSError, DNSRecord

from ..builtin_services import LIVE_REGISTER
from .events import DnsQueryAnswered
from .names import NameTable

TTL = 600
TCP_TIMEOUT = 2.0


def build_reply(names: NameTable, sandbox: str, data: bytes) -> tuple[bytes | None, DnsQueryAnswered | None]:
    """The reply to one query from `sandbox` (None when the packet is not a DNS query)."""
    try:
        request = DNSRecord.parse(data)
    except (DNSError, struct.error, IndexError, ValueError):
        return None, None
    if request.header.qr or not request.questions:
        return None, None
    reply = request.reply(ra=1, aa=0)
    reply.header.ad = 0  # Docker's flags are exactly 0x8180 (dnslib would echo a client's AD bit)
    question = request.questions[0]
    qname, qtype = str(question.qname), QTYPE.get(question.qtype, str(question.qtype))
    answers: list[str] = []
    network = ""
    if request.header.opcode != 0:
        reply.header.rcode = RCODE.NOTIMP
    elif question.qtype == QTYPE.PTR:
        found = names.reverse(sandbox, qname)
        if found.found:
            reply.add_answer(RR(question.qname, QTYPE.PTR, rdata=PTR(found.ptr + "."), ttl=TTL))
            answers, network = [found.ptr], found.network
        else:
            reply.header.rcode = RCODE.NXDOMAIN
    else:
        found = names.resolve(sandbox, qname)
        network = found.network
        if not found.found:
            reply.header.rcode = RCODE.NXDOMAIN
        elif question.qtype in (QTYPE.A, QTYPE.ANY):
            for address in found.addresses:
                reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=TTL))
            answers = list(found.addresses)
        # AAAA (the lab has no IPv6) and other types of a known name: NOERROR with no data,
        # as Docker answers; NXDOMAIN would make glibc give up on the name altogether.
    event = DnsQueryAnswered(container=sandbox, name=qname.rstrip("."), qtype=qtype,
                             rcode=RCODE.get(reply.header.rcode, str(reply.header.rcode)),
                             answers=answers, network=network)
    return reply.pack(), event



class DnsServer:
    """Serves DNS sockets that were opened inside sandboxes; one thread, one selector."""

    def __init__(self, names: NameTable, on_answer: Callable[[DnsQueryAnswered], None] | None = None):
        self.names = names
        self.on_answer = on_answer
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._sockets: dict[str, list[socket.socket]] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None, None))
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="dns", daemon=True)
        self._thread.start()

    def serve(self, sandbox: str, udp: socket.socket, tcp: socket.socket) -> None:
        """Start answering on a sandbox's sockets (bound, TCP listening)."""
        udp.setblocking(False)
        tcp.setblocking(False)
        with self._lock:
            self._sockets[sandbox] = [udp, tcp]
            self._selector.register(udp, selectors.EVENT_READ, ("udp", sandbox, None))
            self._selector.register(tcp, selectors.EVENT_READ, ("accept", sandbox, None))
        if not LIVE_REGISTER:
            self._wake()

    def stop(self, sandbox: str) -> None:
        """Close a sandbox's sockets (an open socket would keep a dropped namespace alive)."""
        with self._lock:
            socks = self._sockets.pop(sandbox, [])
            for sock in socks:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
                sock.close()

    def stop_all(self) -> None:
        for sandbox in list(self._sockets):
            self.stop(sandbox)

    def serving(self) -> list[str]:
        with self._lock:
            return sorted(self._sockets)

    def close(self) -> None:
        self._running = False
        self._wake()
        self._thread.join(timeout=2)
        self.stop_all()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _serve(self) -> None:
        while self._running:
            for key, _ in self._selector.select(timeout=1.0):
                kind, sandbox, buf = key.data
                try:
                    self._handle(kind, sandbox, key.fileobj, buf)
                except OSError:
                    if kind == "tcp":
                        self._drop(key.fileobj)

    def _handle(self, kind: str, sandbox: str, sock, buf: bytearray | None) -> None:
        if kind == "wake":
            sock.recv(4096)
        elif kind == "udp":
            data, peer = sock.recvfrom(65535)
            reply = self._answer(sandbox, data)
            if reply is not None:
                sock.sendto(reply, peer)
        elif kind == "accept":
            conn, _ = sock.accept()
            conn.setblocking(False)
            with self._lock:
                self._selector.register(conn, selectors.EVENT_READ, ("tcp", sandbox, bytearray()))
        elif kind == "tcp":
            chunk = sock.recv(65535)
            if not chunk:
                return self._drop(sock)
            buf += chunk
            if len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                size = struct.unpack("!H", buf[:2])[0]
                reply = self._answer(sandbox, bytes(buf[2:2 + size]))
                if reply is not None:
                    sock.setblocking(True)
                    sock.settimeout(TCP_TIMEOUT)
                    sock.sendall(struct.pack("!H", len(reply)) + reply)
                self._drop(sock)  # one query per connection is all glibc sends

    def _answer(self, sandbox: str, data: bytes) -> bytes | None:
        reply, event = build_reply(self.names, sandbox, data)
        if event is not None and self.on_answer is not None:
            with contextlib.suppress(Exception):
                self.on_answer(event)
        return reply

    def _drop(self, sock) -> None:
        with self._lock, contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        sock.close()
