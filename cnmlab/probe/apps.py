"""Probes that are conversations, not single packets: ARP, HTTP and DNS, on one asyncio loop.

arp: an AF_PACKET socket on the sandbox's interface, a scapy-built who-has, the is-at back.
http: a real TCP connection and GET from a kernel socket born in the sandbox.
dns: a real query (dnslib) to the sandbox's resolver, as an app in the sandbox would ask.
"""

from __future__ import annotations

import asyncio
import errno
import time

from . import packets
from .record import Probe, local_error
from .sockets import ETH_P_ARP, Opener, close_later


async def run_all(probes: list[Probe], timeout: float) -> None:
    handlers = {"arp": _arp, "http": _http, "dns": _dns}
    await asyncio.gather(*(_guard(handlers[p.proto], p, timeout) for p in probes))


async def _guard(handler, p: Probe, timeout: float) -> None:
    sock = None
    try:
        sock = await asyncio.wait_for(handler(p, timeout), timeout)
    except TimeoutError:
        pass  # silence: the caller decides between filtered and timeout
    except OSError as exc:
        if exc.errno == errno.ECONNREFUSED:
            p.done("refused", f"connection refused by {p.dst_ip}:{p.port}", p.dst_ip, time.monotonic())
        else:
            local_error(p, exc)
    finally:
        if sock is not None:
            close_later(sock)


def _start(p: Probe, o: Opener) -> None:
    p.src_ip = o.source_address(p.dst_ip, p.port or 9)
    p.sent_at = time.time()
    p._t0 = time.monotonic()


async def _http(p: Probe, timeout: float):
    loop = asyncio.get_running_loop()
    with Opener(p.netns) as o:
        sock = o.tcp()
        try:
            _start(p, o)
        except OSError:
            close_later(sock)
            raise
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, (p.dst_ip, p.port))
        await loop.sock_sendall(sock, f"GET / HTTP/1.0\r\nHost: {p.dst_ip}\r\n\r\n".encode())
        reply = b""
        while True:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk:
                break
            reply += chunk
    except BaseException:
        close_later(sock)
        raise
    status, _, rest = reply.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2].decode(errors="replace").strip()
    p.answer = body.splitlines()[0] if body else None
    if status.startswith(b"HTTP/"):
        p.done("reachable", f"{status.decode(errors='replace')}" + (f": {p.answer}" if p.answer else ""),
               p.dst_ip, time.monotonic())
    else:
        p.done("refused", "the connection closed without an HTTP answer", p.dst_ip, time.monotonic())
    return sock


async def _dns(p: Probe, timeout: float):
    from dnslib import QTYPE, RCODE, DNSRecord

    loop = asyncio.get_running_loop()
    with Opener(p.netns) as o:
        sock = o.udp()
        try:
            _start(p, o)
            sock.connect((p.dst_ip, p.port))
        except OSError:
            close_later(sock)
            raise
    sock.setblocking(False)
    query = DNSRecord.question(p.query, "A")
    try:
        await loop.sock_sendall(sock, query.pack())
        while True:
            data = await loop.sock_recv(sock, 4096)
            reply = DNSRecord.parse(data)
            if reply.header.id == query.header.id:
                break
    except BaseException:
        close_later(sock)
        raise
    addresses = [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]
    if addresses:
        p.answer = addresses[0]
        p.done("reachable", f"{p.query} resolves to {', '.join(addresses)} (server {p.dst_ip})", p.dst_ip,
               time.monotonic())
    else:
        p.done("refused", f"server {p.dst_ip} answered {RCODE[reply.header.rcode]} for {p.query}", p.dst_ip,
               time.monotonic())
    return sock


def lookup(netns: str, name: str, server: str, timeout: float = 0.5) -> str | None:
    """Ask the sandbox's own resolver for `name` (an A record), as an app in the sandbox would."""
    from dnslib import QTYPE, DNSError, DNSRecord

    with Opener(netns) as o:
        sock = o.udp()
    try:
        sock.settimeout(timeout)
        query = DNSRecord.question(name, "A")
        sock.connect((server, 53))
        sock.send(query.pack())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = DNSRecord.parse(sock.recv(4096))
            if reply.header.id == query.header.id:
                found = [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]
                return found[0] if found else None
    except (OSError, ValueError, DNSError):  # no server, a timeout, a garbled answer: no address
        return None
    finally:
        close_later(sock)
    return None


async def _arp(p: Probe, timeout: float):
    loop = asyncio.get_running_loop()
    if not p.egress:
        p.done("no route", f"ARP only reaches the local link: {p.dst_ip} is on no subnet of {p.netns}")
        return None
    with Opener(p.netns) as o:
        sock = o.packet(p.egress, proto=ETH_P_ARP)
        try:
            p.src_ip = o.source_address(p.dst_ip)
        except OSError:
            close_later(sock)
            raise
    mac = packets.mac_text(sock.getsockname()[4])
    try:
        p.sent_at = time.time()
        p._t0 = time.monotonic()
        await loop.sock_sendall(sock, packets.build_arp(mac, p.src_ip, p.dst_ip))
        while True:
            frame = packets.parse_frame(await loop.sock_recv(sock, 2048))
            if frame and frame.arp and frame.arp[0] == 2 and frame.arp[1] == p.dst_ip:
                p.answer = frame.arp[2]
                p.done("reachable", f"ARP reply: {p.dst_ip} is at {frame.arp[2]}", p.dst_ip, time.monotonic())
                return sock
    except BaseException:
        close_later(sock)
        raise
