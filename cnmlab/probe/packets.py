"""The probe packets: scapy builds them, a few lines of struct read them back.

scapy builds one template per protocol and batch; each probe then gets its own addresses and
identifier patched in, with the L4 checksum recomputed (building every packet with scapy costs
about 0.8 ms, which a 100-container matrix cannot afford). Received frames are matched on bytes
before anything is dissected, as the kernel notes advise (a scapy dissection costs 0.25 ms).
"""

from __future__ import annotations

import functools
import socket
import struct
from dataclasses import dataclass

PAYLOAD = b"cnmlab-probe"
PROTO_NUMBERS = {"icmp": socket.IPPROTO_ICMP, "tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}
VXLAN_PORT = 4789
TCP_FLAGS = "FSRPAUEC"
ICMP_UNREACH_TEXT = {0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable",
                     3: "port unreachable", 4: "fragmentation needed", 9: "net prohibited", 10: "host prohibited",
                     13: "administratively prohibited"}


# -- building -------------------------------------------------------------------
@functools.cache
def _template(proto: str) -> bytes:
    from scapy.layers.inet import ICMP, IP, TCP, UDP

    # Addresses are always given: scapy must never consult its (the engine's) routing table.
    ip = IP(src="0.0.0.0", dst="0.0.0.0", ttl=64, flags="DF")
    if proto == "icmp":
        pkt = ip / ICMP(type=8, id=0, seq=1) / PAYLOAD
    elif proto == "tcp":
        pkt = ip / TCP(sport=0, dport=0, flags="S", seq=0x636E6D00, window=64240)
    elif proto == "udp":
        pkt = ip / UDP(sport=0, dport=0) / PAYLOAD
    else:
        raise ValueError(proto)
    return bytes(pkt)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build(proto: str, src: str, dst: str, ident: int, port: int = 0, size: int | None = None) -> bytes:
    """An IPv4 packet for a raw L3 socket: ICMP echo (id=ident), TCP SYN or UDP (sport=ident).
    `size`: the whole IP packet's length in bytes (ICMP and UDP are padded up to it; DF is set)."""
    pkt = bytearray(_template(proto))
    if size is not None and proto in ("icmp", "udp") and size > len(pkt):
        pkt += b"\0" * (size - len(pkt))
        pkt[2:4] = struct.pack("!H", len(pkt))
        if proto == "udp":
            pkt[24:26] = struct.pack("!H", len(pkt) - 20)
    pkt[12:16] = socket.inet_aton(src)
    pkt[16:20] = socket.inet_aton(dst)
    pkt[10:12] = b"\0\0"
    pkt[10:12] = struct.pack("!H", checksum(bytes(pkt[:20])))
    l4 = 20
    if proto == "icmp":
        pkt[l4 + 4:l4 + 6] = struct.pack("!H", ident)
        pkt[l4 + 2:l4 + 4] = b"\0\0"
        pkt[l4 + 2:l4 + 4] = struct.pack("!H", checksum(bytes(pkt[l4:])))
        return bytes(pkt)
    pkt[l4:l4 + 4] = struct.pack("!HH", ident, port)
    csum_at = l4 + (16 if proto == "tcp" else 6)
    pkt[csum_at:csum_at + 2] = b"\0\0"
    pseudo = pkt[12:20] + struct.pack("!BBH", 0, PROTO_NUMBERS[proto], len(pkt) - l4)
    value = checksum(bytes(pseudo + pkt[l4:])) or (0xFFFF if proto == "udp" else 0)
    pkt[csum_at:csum_at + 2] = struct.pack("!H", value)
    return bytes(pkt)


def build_custom(proto: str, src: str, dst: str, ident: int, port: int, payload: bytes) -> bytes:
    """A UDP packet with a real payload (a DNS query): built whole by scapy, addresses given."""
    from scapy.layers.inet import IP, UDP

    if proto != "udp":
        raise ValueError(proto)
    return bytes(IP(src=src, dst=dst, ttl=64, flags="DF") / UDP(sport=ident, dport=port) / payload)


def build_arp(src_mac: str, src_ip: str, dst_ip: str) -> bytes:
    from scapy.layers.l2 import ARP, Ether

    # Both MACs are given, so scapy never resolves anything itself.
    frame = Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=src_mac, psrc=src_ip,
                                                                hwdst="00:00:00:00:00:00", pdst=dst_ip)
    return bytes(frame)


# -- reading --------------------------------------------------------------------
@dataclass
class Ip:
    """What matters of one IPv4 packet (and, for ICMP errors, of the packet it quotes)."""

    proto: int
    src: str
    dst: str
    sport: int = 0  # TCP/UDP ports; for ICMP echo: sport = id, dport = seq
    dport: int = 0
    icmp_type: int = -1
    icmp_code: int = -1
    flags: int = 0  # TCP flags
    length: int = 0
    ttl: int = 0
    quoted: Ip | None = None  # the original packet inside an ICMP error


def parse_ip(data: bytes, quoted: bool = False) -> Ip | None:
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    ihl = (data[0] & 0x0F) * 4
    proto, ttl = data[9], data[8]
    length = struct.unpack_from("!H", data, 2)[0]
    pkt = Ip(proto, socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20]), length=length, ttl=ttl)
    l4 = data[ihl:]
    if proto in (socket.IPPROTO_TCP, socket.IPPROTO_UDP) and len(l4) >= 4:
        pkt.sport, pkt.dport = struct.unpack_from("!HH", l4)
        if proto == socket.IPPROTO_TCP and len(l4) >= 14:
            pkt.flags = l4[13]
    elif proto == socket.IPPROTO_ICMP and len(l4) >= 8:
        pkt.icmp_type, pkt.icmp_code = l4[0], l4[1]
        if pkt.icmp_type in (0, 8):
            pkt.sport, pkt.dport = struct.unpack_from("!HH", l4, 4)
        elif pkt.icmp_type in (3, 11) and not quoted:
            pkt.quoted = parse_ip(l4[8:], quoted=True)
    return pkt


@dataclass
class Frame:
    """One captured Ethernet frame: its IP packet, or ARP, and for VXLAN the outer headers too."""

    ethertype: int
    ip: Ip | None = None
    arp: tuple | None = None  # (op, sender ip, sender mac, target ip)
    outer: dict | None = None  # VXLAN: {"src","dst","udp_port","vni"}


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def parse_frame(data: bytes) -> Frame | None:
    if len(data) < 14:
        return None
    ethertype = struct.unpack_from("!H", data, 12)[0]
    body = data[14:]
    if ethertype == 0x0806 and len(body) >= 28:
        op = struct.unpack_from("!H", body, 6)[0]
        return Frame(ethertype, arp=(op, socket.inet_ntoa(body[14:18]), mac_text(body[8:14]),
                                     socket.inet_ntoa(body[24:28])))
    if ethertype != 0x0800:
        return Frame(ethertype)
    ip = parse_ip(body)
    if ip and ip.proto == socket.IPPROTO_UDP and ip.dport == VXLAN_PORT:
        ihl = (body[0] & 0x0F) * 4
        vxlan = body[ihl + 8:ihl + 16]
        if len(vxlan) == 8 and vxlan[0] & 0x08:
            inner = parse_frame(body[ihl + 16:])
            if inner is not None:
                inner.outer = {"src": ip.src, "dst": ip.dst, "udp_port": VXLAN_PORT,
                               "vni": int.from_bytes(vxlan[4:7], "big")}
                return inner
    return Frame(ethertype, ip=ip)


def describe(pkt: Ip) -> str:
    """A one-line decode, tcpdump-like: `ICMP 172.18.0.2 > 172.18.0.3 echo request id=4660 seq=1`."""
    if pkt.proto == socket.IPPROTO_ICMP:
        if pkt.icmp_type in (0, 8):
            kind = "echo request" if pkt.icmp_type == 8 else "echo reply"
            return f"ICMP {pkt.src} > {pkt.dst} {kind} id={pkt.sport} seq={pkt.dport}"
        if pkt.icmp_type == 3:
            what = ICMP_UNREACH_TEXT.get(pkt.icmp_code, f"unreachable code {pkt.icmp_code}")
            about = f" (about {describe(pkt.quoted)})" if pkt.quoted else ""
            return f"ICMP {pkt.src} > {pkt.dst} {what}{about}"
        return f"ICMP {pkt.src} > {pkt.dst} type {pkt.icmp_type} code {pkt.icmp_code}"
    if pkt.proto == socket.IPPROTO_TCP:
        flags = "".join(f for i, f in enumerate(TCP_FLAGS) if pkt.flags & (1 << i)) or "."
        return f"TCP {pkt.src}:{pkt.sport} > {pkt.dst}:{pkt.dport} [{flags}]"
    if pkt.proto == socket.IPPROTO_UDP:
        return f"UDP {pkt.src}:{pkt.sport} > {pkt.dst}:{pkt.dport} len={max(pkt.length - 28, 0)}"
    return f"IP proto {pkt.proto} {pkt.src} > {pkt.dst}"


def describe_frame(frame: Frame) -> str:
    if frame.arp:
        op, sip, smac, tip = frame.arp
        return f"ARP who-has {tip} tell {sip}" if op == 1 else f"ARP reply {sip} is-at {smac}"
    if frame.ip:
        return describe(frame.ip)
    return f"ethertype 0x{frame.ethertype:04x}"
