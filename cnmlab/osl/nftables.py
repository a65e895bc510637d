"""Docker's embedded-DNS nat rules written over nf_tables netlink, exactly as iptables-nft writes them.

`iptables-restore` costs a process per sandbox (about 3 ms, more than the rest of a container);
the kernel itself needs about 0.1 ms for the same 13 messages. So we send them ourselves, in
one nfnetlink batch: the `nat` table, the two base chains, DOCKER_OUTPUT/DOCKER_POSTROUTING and
six rules whose expressions are the ones iptables-nft 1.8 produces for Docker's lines (native
payload/cmp for `-d`, `-p`, `--dport`; a counter; the xtables compat DNAT/SNAT target). That
is what makes `iptables -t nat -S` and `iptables-save` in the sandbox print Docker's text, and
later iptables-nft batches (swarm's service chains) extend the same table.
tests/test_nftables.py compares both against the reference and against iptables-restore's own
netlink output. A machine whose iptables is not the nf_tables variant gets the process instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import struct
import subprocess
from ipaddress import IPv4Address


NETLINK_NETFILTER = 12
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE, NLM_F_APPEND = 0x1, 0x4, 0x400, 0x800
NLA_F_NESTED = 0x8000
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWTABLE, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE = 0, 3, 6
NFPROTO_IPV4 = 2
NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING = 3, 4
NF_ACCEPT, NFT_JUMP = 1, -3
NFT_REG_VERDICT, NFT_REG_1 = 0, 1
NFT_META_L4PROTO = 16
NFT_PAYLOAD_NETWORK_HEADER, NFT_PAYLOAD_TRANSPORT_HEADER = 1, 2
NF_NAT_RANGE_MAP_IPS, NF_NAT_RANGE_PROTO_SPECIFIED = 1, 2
IPPROTO_TCP, IPPROTO_UDP = 6, 17

_HDR = struct.Struct("=LHHLL")
_NFGEN = struct.Struct("=BBH")  # family, version, res_id (big endian)


# -- attribute packing ------------------------------------------------------------------
def _attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def _nest(kind: int, *attrs: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, b"".join(attrs))


def _str(kind: int, text: str) -> bytes:
    return _attr(kind, text.encode() + b"\0")


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack(">i" if value < 0 else ">I", value))


def _expr(name: str, *data: bytes) -> bytes:
    return _nest(1, _str(1, name), _nest(2, *data))  # NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA }


# -- the expressions iptables-nft uses ------------------------------------------------------
@functools.cache
def _meta_l4proto() -> bytes:
    return _expr("meta", _u32(2, NFT_META_L4PROTO), _u32(1, NFT_REG_1))  # KEY, DREG


def _payload(base: int, offset: int, length: int) -> bytes:
    return _expr("payload", _u32(1, NFT_REG_1), _u32(2, base), _u32(3, offset), _u32(4, length))


def _cmp_eq(value: bytes) -> bytes:
    return _expr("cmp", _u32(1, NFT_REG_1), _u32(2, 0), _nest(3, _attr(1, value)))  # SREG, OP eq, DATA{VALUE}


@functools.cache
def _counter() -> bytes:
    return _expr("counter", _attr(1, bytes(8)), _attr(2, bytes(8)))  # BYTES, PACKETS


def _jump(chain: str) -> bytes:
    verdict = _nest(2, _u32(1, NFT_JUMP), _str(2, chain))  # NFTA_DATA_VERDICT { CODE, CHAIN }
    return _expr("immediate", _u32(1, NFT_REG_VERDICT), _nest(2, verdict))


def _target(name: str, revision: int, info: bytes) -> bytes:
    info += b"\0" * (-len(info) % 8)  # XT_ALIGN, as iptables pads xt_entry_target
    return _expr("target", _str(1, name), _u32(2, revision), _attr(3, info))


@functools.cache
def _packed(address: str) -> bytes:
    return IPv4Address(address).packed


@functools.cache
def _ip(address: str, source: bool) -> bytes:
    return _payload(NFT_PAYLOAD_NETWORK_HEADER, 12 if source else 16, 4) + _cmp_eq(IPv4Address(address).packed)


def _l4_port(port: int, source: bool) -> bytes:
    return _payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0 if source else 2, 2) + _cmp_eq(struct.pack(">H", port))


def _dnat(address: str, port: int) -> bytes:
    """DNAT rev 2 --to-destination ADDRESS:PORT: struct nf_nat_range2."""
    addr = _packed(address) + bytes(12)
    info = struct.pack("=I", NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED) + addr + addr
    info += struct.pack(">HHH", port, port, 0) + bytes(2)  # min, max, base proto; struct padding
    return _target("DNAT", 2, info)


@functools.cache
def _snat_port(port: int) -> bytes:
    """SNAT rev 0 --to-source :PORT: struct nf_nat_ipv4_multi_range_compat with one range."""
    info = struct.pack("=II", 1, NF_NAT_RANGE_PROTO_SPECIFIED) + bytes(8) + struct.pack(">HH", port, port)
    return _target("SNAT", 0, info)


# -- messages ----------------------------------------------------------------------------
def _table(name: str) -> tuple[int, int, bytes]:
    return NFT_MSG_NEWTABLE, NLM_F_CREATE, _str(1, name) + _u32(2, 0)


def _chain(table: str, name: str, hook: int | None = None, priority: int = 0) -> tuple[int, int, bytes]:
    body = _str(1, table) + _str(3, name)
    if hook is not None:  # a base chain, as iptables-nft makes the built-in ones
        body += _nest(4, _u32(1, hook), _u32(2, priority)) + _u32(5, NF_ACCEPT) + _str(7, "nat")
    return NFT_MSG_NEWCHAIN, NLM_F_CREATE, body


def _rule(table: str, chain: str, exprs: list[bytes], proto: int = 0) -> tuple[int, int, bytes]:
    body = _str(1, table) + _str(2, chain) + _nest(4, *exprs)
    if proto:  # NFTA_RULE_COMPAT { PROTO, FLAGS }: what the xtables target sees as the rule's -p
        body += _nest(5, _u32(1, proto), _u32(2, 0))
    return NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, body


def dns_messages(address: str, udp_port: int, tcp_port: int) -> list[tuple[int, int, bytes]]:
    """Docker's DOCKER_OUTPUT / DOCKER_POSTROUTING chains (dns/sandbox.nat_rules), as nf_tables messages."""
    # iptables-restore's order (user chains first, a built-in chain when its first rule comes),
    # so even the rule handles match. Only the resolver's two ports differ between sandboxes:
    # the rest is packed once (it was ~300 attribute packings per sandbox, 0.3 ms of Python).
    messages = list(_fixed_messages(address))
    for proto, port in ((IPPROTO_TCP, tcp_port), (IPPROTO_UDP, udp_port)):
        messages.append(_rule("nat", "DOCKER_OUTPUT", [*_dns_match(address, proto), _dnat(address, port)], proto))
    for proto, port in ((IPPROTO_TCP, tcp_port), (IPPROTO_UDP, udp_port)):
        messages.append(_rule("nat", "DOCKER_POSTROUTING", [
            _proto_match(proto), _ip(address, True), _l4_port(port, True), *_snat_to_53()], proto))
    return messages


@functools.cache
def _fixed_messages(address: str) -> tuple[tuple[int, int, bytes], ...]:
    """The table, the chains and the two jumps: the same in every sandbox."""
    return (_table("nat"), _chain("nat", "DOCKER_OUTPUT"), _chain("nat", "DOCKER_POSTROUTING"),
            _chain("nat", "OUTPUT", NF_INET_LOCAL_OUT, -100),
            _rule("nat", "OUTPUT", [_ip(address, False), _counter(), _jump("DOCKER_OUTPUT")]),
            _chain("nat", "POSTROUTING", NF_INET_POST_ROUTING, 100),
            _rule("nat", "POSTROUTING", [_ip(address, False), _counter(), _jump("DOCKER_POSTROUTING")]))


@functools.cache
def _proto_match(proto: int) -> bytes:
    return _meta_l4proto() + _cmp_eq(bytes([proto]))


@functools.cache
def _snat_to_53() -> tuple[bytes, ...]:
    return _counter(), _snat_port(53)


@functools.cache
def _dns_match(address: str, proto: int) -> tuple[bytes, ...]:
    """-d ADDRESS/32 -p PROTO -m PROTO --dport 53, and the rule's counter."""
    return _proto_match(proto), _ip(address, False), _l4_port(53, False), _counter()


# -- transport ---------------------------------------------------------------------------
def send_batch(messages: list[tuple[int, int, bytes]]) -> None:
    """Commit messages as one nf_tables transaction in the calling thread's namespace: all or none."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_NETFILTER)
    try:
        sock.bind((0, 0))
        begin_end = _NFGEN.pack(socket.AF_UNSPEC, 0, socket.htons(NFNL_SUBSYS_NFTABLES))
        parts = [_HDR.pack(_HDR.size + len(begin_end), NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, 0) + begin_end]
        # Only the last message asks for an ack: nfnetlink reports a failing message whatever its
        # flags, and delivers every report, in order, once the whole batch is done (within the
        # send). So the last ack comes after any error, and success is one answer, not 11 (each
        # read hands the GIL back and forth with the kernel thread).
        for seq, (kind, flags, attrs) in enumerate(messages, start=1):
            body = _NFGEN.pack(NFPROTO_IPV4, 0, 0) + attrs
            ack = NLM_F_ACK if seq == len(messages) else 0
            parts.append(_HDR.pack(_HDR.size + len(body), (NFNL_SUBSYS_NFTABLES << 8) | kind,
                                   flags | NLM_F_REQUEST | ack, seq, 0) + body)
        parts.append(_HDR.pack(_HDR.size + len(begin_end), NFNL_MSG_BATCH_END, NLM_F_REQUEST,
                               len(messages) + 1, 0) + begin_end)
        sock.send(b"".join(parts))
        pending, error = {len(messages)}, None
        while pending:
            data = sock.recv(1 << 16)
            offset = 0
            while offset + _HDR.size <= len(data):
                length, kind, _, seq, _ = _HDR.unpack_from(data, offset)
                if kind == NLMSG_ERROR:
                    pending.discard(seq)
                    code = -struct.unpack_from("=i", data, offset + _HDR.size)[0]
                    if code and error is None:
                        error = OSError(code, f"nf_tables: {os.strerror(code)}")
                offset += (length + 3) & ~3
        if error is not None:
            raise error
    finally:
        sock.close()


@functools.cache
def iptables_is_nft() -> bool:
    """Whether the machine's `iptables` reads nf_tables (so rules we write there are the ones it shows)."""
    if shutil.which("iptables") is None:
        return False
    try:
        out = subprocess.run(["iptables", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "nf_tables" in out
