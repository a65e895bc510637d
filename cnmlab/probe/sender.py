"""Send many probes at once and hear what comes back.

icmp, tcp and udp: scapy-built packets go out of one raw L3 socket per source sandbox (the
source address is set by us, picked by that sandbox's kernel; the route is the sandbox's), and
one epoll loop reads every answer from raw receive sockets opened in the same sandboxes.
arp, http and dns are conversations (apps.py), run meanwhile on one asyncio loop.

Every probe gets a unique identifier (ICMP id, or TCP/UDP source port) so answers find their
probe among hundreds in flight; ICMP errors are matched through the packet they quote.
"""

from __future__ import annotations

import asyncio
import random
import selectors
import socket
import threading
import time

from ..osl import writer
from . import packets
from .record import Probe, local_error
from .sockets import Opener, close_later

RAW_PROTOS = ("icmp", "tcp", "udp")
TCP_SYN, TCP_RST, TCP_ACK = 0x02, 0x04, 0x10
FIRST_IDENT, LAST_IDENT = 40000, 60999  # source ports the sandboxes' services never use
SETTLE_QUIET = 0.03  # no answer for this long: ask whether the silent probes are explained
SETTLE_EVERY = 0.1

_next = [FIRST_IDENT + random.randrange(LAST_IDENT - FIRST_IDENT)]
_ident_lock = threading.Lock()


def next_ident() -> int:
    """A fresh ICMP id / source port: unique among the probes in flight, whichever thread asks."""
    with _ident_lock:
        value = _next[0]
        _next[0] = FIRST_IDENT if value >= LAST_IDENT else value + 1
        return value


def run(probes: list[Probe], timeout: float = 1.0, settle=None) -> list[Probe]:
    """Send every probe, wait up to `timeout` for the answers; silent probes keep outcome None.

    `settle(silent_probes) -> bool`, when given, is asked after a quiet moment whether every
    silent probe is already explained (a rule counted its drop): then nobody waits out the
    timeout for answers that cannot come.
    """
    writer.settle_all()  # a sandbox's resolver opens on the writer thread: a probe may ask it
    raw = [p for p in probes if p.proto in RAW_PROTOS]
    other = [p for p in probes if p.proto not in RAW_PROTOS]
    worker = None
    if other:
        from .apps import run_all

        worker = threading.Thread(target=lambda: asyncio.run(run_all(other, timeout)), name="probe-async")
        worker.start()
    if raw:
        _run_raw(raw, timeout, settle if not other else None)
    if worker is not None:
        worker.join()
    return probes


# -- icmp, tcp, udp: raw sockets and one select loop ------------------------------
def _run_raw(probes: list[Probe], timeout: float, settle=None) -> None:
    by_ns: dict[str, list[Probe]] = {}
    for p in probes:
        by_ns.setdefault(p.netns, []).append(p)
    senders, receivers, waiting, discards = {}, {}, {}, {}
    try:
        for ns, group in by_ns.items():
            try:
                with Opener(ns) as o:
                    discards[ns] = o.out_discards()
                    senders[ns] = o.raw_sender()
                    wanted = {socket.IPPROTO_ICMP} | {packets.PROTO_NUMBERS[p.proto] for p in group}
                    for proto in wanted:
                        receivers[o.raw_receiver(proto, (FIRST_IDENT, LAST_IDENT))] = ns
                    for p in group:
                        try:
                            p.src_ip = o.source_address(p.dst_ip, p.port or 9)
                        except OSError as exc:
                            local_error(p, exc)
            except OSError as exc:  # the namespace vanished (container removed meanwhile)
                for p in group:
                    p.done("no route", f"cannot open sockets in {ns}: {exc.strerror}")
        for ns, group in by_ns.items():
            sender = senders.get(ns)
            for p in group:
                if p.outcome is not None or sender is None:
                    continue
                p.ident = next_ident()
                waiting[(ns, packets.PROTO_NUMBERS[p.proto], p.ident)] = p
                if p.payload is not None:
                    data = packets.build_custom(p.proto, p.src_ip, p.dst_ip, p.ident, p.port or 0, p.payload)
                else:
                    data = packets.build(p.proto, p.src_ip, p.dst_ip, p.ident, p.port or 0, p.size)
                p.sent = data
                p.sent_at = time.time()
                p._t0 = time.monotonic()
                try:
                    sender.sendto(data, (p.dst_ip, 0))
                except OSError as exc:
                    local_error(p, exc)
            # Read the answers that came already, so no buffer fills while the others are sent.
            for sock, where in receivers.items():
                _drain(sock, where, waiting, set())
        _listen(receivers, waiting, timeout, settle)
        _count_discards(by_ns, discards)
    finally:
        close_later(*senders.values(), *receivers)


def _count_discards(by_ns: dict[str, list[Probe]], before: dict[str, int]) -> None:
    """Silence can be the source's own kernel: e.g. when the machine's neighbour (ARP) table,
    which every namespace shares, is full, packets to new neighbours are discarded."""
    for ns, group in by_ns.items():
        silent = [p for p in group if p.outcome is None and p.sent_at is not None]
        if not silent or ns not in before:
            continue
        try:
            with Opener(ns) as o:
                moved = o.out_discards() - before[ns]
        except OSError:
            continue
        for p in silent:
            p.discarded = max(moved, 0)


def _listen(receivers: dict, waiting: dict, timeout: float, settle=None) -> None:
    deadline = time.monotonic() + timeout
    pending = {k for k, p in waiting.items() if p.outcome is None}
    next_settle = time.monotonic() + SETTLE_QUIET
    # epoll, not select(): an engine with many sandboxes holds file descriptors far above 1024.
    with selectors.DefaultSelector() as selector:
        for sock in receivers:
            selector.register(sock, selectors.EVENT_READ)
        while pending and receivers:
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                return
            if settle is not None and now >= next_settle:
                if settle([waiting[k] for k in pending]):
                    return
                next_settle = time.monotonic() + SETTLE_EVERY
            wait = min(left, max(next_settle - time.monotonic(), 0)) if settle is not None else left
            events = selector.select(wait)
            for key, _ in events:
                _drain(key.fileobj, receivers[key.fileobj], waiting, pending)
            if events and settle is not None:
                next_settle = max(next_settle, time.monotonic() + SETTLE_QUIET)


def _drain(sock, ns: str, waiting: dict, pending: set) -> None:
    now = time.monotonic()
    while True:
        try:
            data = sock.recv(65535)
        except OSError:  # EAGAIN: read everything there was
            return
        key = _classify(ns, data, waiting, now)
        if key is not None:
            pending.discard(key)


def _classify(ns: str, data: bytes, waiting: dict, now: float):
    pkt = packets.parse_ip(data)
    if pkt is None:
        return None
    if pkt.proto == socket.IPPROTO_ICMP and pkt.quoted is not None:
        q = pkt.quoted
        key = (ns, q.proto, q.sport)
        p = waiting.get(key)
        if p is None:  # the quoted addresses may be NAT-rewritten: the identifier decides
            return None
        code = pkt.icmp_code
        what = packets.ICMP_UNREACH_TEXT.get(code, f"code {code}") if pkt.icmp_type == 3 else "time exceeded"
        if pkt.icmp_type == 3 and code == 3:
            p.done("refused", f"ICMP port unreachable from {pkt.src}", pkt.src, now)
        elif pkt.icmp_type == 3 and code in (9, 10, 13):
            p.done("filtered", f"ICMP {what} from {pkt.src}", pkt.src, now)
        else:
            p.done("no route", f"ICMP {what} from {pkt.src}", pkt.src, now)
        return key
    if pkt.proto == socket.IPPROTO_ICMP:
        if pkt.icmp_type != 0:
            return None
        key = (ns, pkt.proto, pkt.sport)
        p = waiting.get(key)
        if p is None or pkt.src != p.dst_ip:
            return None
        p.done("reachable", f"echo reply from {pkt.src}", pkt.src, now)
        return key
    key = (ns, pkt.proto, pkt.dport)
    p = waiting.get(key)
    if p is None or pkt.src != p.dst_ip or pkt.sport != p.port:
        return None
    if pkt.proto == socket.IPPROTO_TCP:
        if pkt.flags & TCP_RST:
            p.done("refused", f"TCP RST from {pkt.src}:{pkt.sport} (nothing listens there)", pkt.src, now)
        elif pkt.flags & TCP_SYN and pkt.flags & TCP_ACK:
            p.done("reachable", f"TCP SYN-ACK from {pkt.src}:{pkt.sport}", pkt.src, now)
        else:
            return None
    else:
        p.done("reachable", f"UDP reply from {pkt.src}:{pkt.sport}", pkt.src, now)
    return key
