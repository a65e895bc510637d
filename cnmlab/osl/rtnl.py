"""A bare rtnetlink socket for the hot path: the few messages a sandbox join needs, packed by hand.

pyroute2 spends 0.2-0.6 ms of Python per request (it runs an event loop for each call); the
kernel itself needs about 20 us. Building a container takes a handful of requests, so the join
path (veth creation, address, default route, lo up) talks netlink directly here, and can send
several messages in one datagram. Everything else keeps using pyroute2 through `links`.
Errors are pyroute2's NetlinkError, so callers catch one exception type.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
from ipaddress import IPv4Address

from pyroute2.netlink.exceptions import NetlinkError

NETLINK_ROUTE = 0
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_ECHO, NLM_F_DUMP = 0x1, 0x4, 0x8, 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_DELROUTE = 16, 17, 18, 20, 24, 25
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_NUM_TX_QUEUES, IFLA_NUM_RX_QUEUES = 31, 32
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
IFF_UP = 0x1
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
RTPROT_STATIC = 4  # `proto static` in `ip route`: set by an administrator
SIOCGSKNS = 0x894C  # ioctl: an fd of the socket's network namespace

_HDR = struct.Struct("=LHHLL")  # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_NLA = struct.Struct("=HH")


def nla(kind: int, payload: bytes) -> bytes:
    raw = _NLA.pack(_NLA.size + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def _name(text: str) -> bytes:
    return text.encode() + b"\0"


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _veth_queues() -> int:
    """The queues the kernel gives a veth when not told: one per possible CPU, at most 4096
    (drivers/net/veth.c, veth_get_num_queues)."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            count = 0
            for part in f.read().strip().split(","):  # "0-1", "0,2-3"
                first, _, last = part.partition("-")
                count += int(last or first) - int(first) + 1
    except (OSError, ValueError):
        count = os.cpu_count() or 1
    return max(1, min(4096, count))


# Told nothing, the kernel makes each end of a veth with that many queues and then keeps one of
# them real (veth_init_queues), which waits out an RCU grace period per end: about a sixth of the
# join's veth (docs/benchmarks.md, item 34). Told the same number, it keeps them, so `ip -d link`
# shows Docker's numtxqueues/numrxqueues; only /sys/class/net/*/queues differs (docs/architecture.md).
_QUEUES = _veth_queues()
_QUEUE_ATTRS = nla(IFLA_NUM_TX_QUEUES, struct.pack("=I", _QUEUES)) + nla(IFLA_NUM_RX_QUEUES, struct.pack("=I", _QUEUES))


def _veth_attrs(ifname: str, peer: str, peer_netns_fd: int, mtu: int, peer_mac: str | None = None) -> bytes:
    """A veth's attributes: its name and MTU, and its peer's, born in the namespace of
    `peer_netns_fd`; both ends with the kernel's own queue count. The peer cannot be brought up
    in the same message (veth_open fails with ENOTCONN until the pair is linked): the caller sets
    it up where it lives."""
    peer_attrs = nla(IFLA_IFNAME, _name(peer)) + nla(IFLA_MTU, struct.pack("=I", mtu))
    peer_attrs += nla(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd)) + _QUEUE_ATTRS
    if peer_mac:
        peer_attrs += nla(IFLA_ADDRESS, _mac(peer_mac))
    peer_info = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + peer_attrs
    linkinfo = nla(IFLA_INFO_KIND, b"veth") + nla(IFLA_INFO_DATA, nla(VETH_INFO_PEER, peer_info))
    attrs = nla(IFLA_IFNAME, _name(ifname)) + nla(IFLA_MTU, struct.pack("=I", mtu)) + _QUEUE_ATTRS
    return attrs + nla(IFLA_LINKINFO, linkinfo)


class Rtnl:
    """One NETLINK_ROUTE socket, opened in (and bound to) the namespace of the calling thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.indexes: dict[str, int] = {}  # ifindex of links made through this socket, by name
        self._seq = 0
        self._netns_fd: int | None = None

    @property
    def netns_fd(self) -> int:
        """The socket's namespace, so a veth made elsewhere can put its peer here (IFLA_NET_NS_FD).
        Asked of the socket (SIOCGSKNS) when first needed: only a host's socket ever is, and
        opening /proc/thread-self/ns/net for every sandbox was 2% of a container's build."""
        if self._netns_fd is None:
            self._netns_fd = fcntl.ioctl(self.sock.fileno(), SIOCGSKNS)  # the kernel opens it O_CLOEXEC
        return self._netns_fd

    def close(self) -> None:
        self.sock.close()
        if self._netns_fd is not None:
            os.close(self._netns_fd)

    # -- transport --------------------------------------------------------------
    def _message(self, kind: int, flags: int, body: bytes) -> tuple[int, bytes]:
        self._seq += 1
        return self._seq, _HDR.pack(_HDR.size + len(body), kind, flags | NLM_F_REQUEST | NLM_F_ACK, self._seq, 0) + body

    def request(self, messages: list[tuple[int, int, bytes]]) -> list[tuple[int, bytes]]:
        """Send (type, flags, body) messages in one datagram; wait for every ack.

        The kernel handles them in order; the first error is raised after all answers are read
        (later messages still ran: callers send together only what may fail independently).
        Returns the (type, body) of any non-ack answers (e.g. RTM_NEWLINK for a GETLINK).
        """
        packed = [self._message(*m) for m in messages]
        pending = {seq for seq, _ in packed}
        self.sock.send(b"".join(raw for _, raw in packed))
        answers: list[tuple[int, bytes]] = []
        error: NetlinkError | None = None
        while pending:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + _HDR.size <= len(data):
                length, kind, _, seq, _ = _HDR.unpack_from(data, offset)
                body = data[offset + _HDR.size:offset + length]
                offset += (length + 3) & ~3
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0]
                    pending.discard(seq)
                    if code and error is None:
                        error = NetlinkError(code, os.strerror(code))
                elif kind != NLMSG_DONE and seq in pending:
                    answers.append((kind, body))
        if error is not None:
            raise error
        return answers

    def dump(self, kind: int, body: bytes) -> list[bytes]:
        """Every answer to a dump request (RTM_GETLINK, RTM_GETADDR, ...) until NLMSG_DONE."""
        self._seq += 1
        seq = self._seq
        self.sock.send(_HDR.pack(_HDR.size + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
        out: list[bytes] = []
        while True:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + _HDR.size <= len(data):
                length, mtype, _, mseq, _ = _HDR.unpack_from(data, offset)
                body_at = data[offset + _HDR.size:offset + length]
                offset += (length + 3) & ~3
                if mseq != seq:
                    continue
                if mtype == NLMSG_DONE:
                    return out
                if mtype == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body_at)[0]
                    if code:
                        raise NetlinkError(code, os.strerror(code))
                    return out
                out.append(body_at)

    # -- links ------------------------------------------------------------------
    def link(self, ifname: str) -> tuple[int, str | None]:
        """(ifindex, MAC) of a link by name; LookupError when there is none."""
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + nla(IFLA_IFNAME, _name(ifname))
        try:
            answers = self.request([(RTM_GETLINK, 0, body)])
        except NetlinkError as exc:
            if exc.code == 19:  # ENODEV
                raise LookupError(f"no link {ifname}") from None
            raise
        found = link_in(answers)
        if found is None:
            raise LookupError(f"no link {ifname}")
        return found

    @staticmethod
    def veth_message(ifname: str, peer: str, peer_netns_fd: int, master: int | None = None, mtu: int = 1500,
                     peer_mac: str | None = None, up: bool = True) -> tuple[int, int, bytes]:
        """One RTM_NEWLINK that creates a veth, enslaves it to `master`, brings it up and gives the
        peer (born inside the sandbox) its name and MAC: what `ip` does in three commands."""
        attrs = _veth_attrs(ifname, peer, peer_netns_fd, mtu, peer_mac)
        if master is not None:
            attrs += nla(IFLA_MASTER, struct.pack("=I", master))
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, IFF_UP if up else 0, IFF_UP) + attrs
        return RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body

    @staticmethod
    def veth_inside_message(ifname: str, peer: str, peer_netns_fd: int, mtu: int = 1500,
                            mac: str | None = None) -> tuple[int, int, bytes]:
        """One RTM_NEWLINK, sent from inside a sandbox, that makes its `ifname` (up, with its MAC)
        and the peer `peer` in another namespace. NLM_F_ECHO: the kernel answers with the new
        link, so its index comes back without a lookup."""
        attrs = _veth_attrs(ifname, peer, peer_netns_fd, mtu)
        if mac:
            attrs += nla(IFLA_ADDRESS, _mac(mac))
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, IFF_UP, IFF_UP) + attrs
        return RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, body

    @staticmethod
    def enslave_message(ifname: str, master: int | None) -> tuple[int, int, bytes]:
        """Set a link (by name) up, on bridge `master` (an index) if given."""
        attrs = nla(IFLA_IFNAME, _name(ifname))
        if master is not None:
            attrs += nla(IFLA_MASTER, struct.pack("=I", master))
        return RTM_NEWLINK, 0, _IFINFO.pack(socket.AF_UNSPEC, 0, 0, IFF_UP, IFF_UP) + attrs

    @staticmethod
    def delete_message(index: int) -> tuple[int, int, bytes]:
        return RTM_DELLINK, 0, _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0)

    @staticmethod
    def up_message(index: int) -> tuple[int, int, bytes]:
        return RTM_NEWLINK, 0, _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)

    # -- addresses and routes -----------------------------------------------------
    @staticmethod
    def address_message(index: int, address: str, prefixlen: int) -> tuple[int, int, bytes]:
        packed = socket.inet_pton(socket.AF_INET, address)  # strict dotted quad, as IPv4Address, 10x cheaper
        body = _IFADDR.pack(socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, index)
        body += nla(IFA_LOCAL, packed) + nla(IFA_ADDRESS, packed)
        return RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body

    @staticmethod
    def default_route_message(gateway: str | None, oif: int | None = None,
                              protocol: int = RTPROT_BOOT) -> tuple[int, int, bytes]:
        """Replace the default route (gateway None: delete it)."""
        body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, protocol, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
        if gateway is None:
            return RTM_DELROUTE, 0, body
        body += nla(RTA_GATEWAY, socket.inet_pton(socket.AF_INET, gateway))
        if oif is not None:
            body += nla(RTA_OIF, struct.pack("=I", oif))
        return RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, body


RTM_GETROUTE, RTM_GETADDR = 26, 22
IFLA_LINK, IFLA_LINK_NETNSID, IFLA_VXLAN_ID, IFLA_VXLAN_LOCAL = 5, 37, 1, 4


def nlas(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """The attributes of a message (or of a nested attribute) by type, raw."""
    out: dict[int, bytes] = {}
    while offset + _NLA.size <= len(data):
        length, attr = _NLA.unpack_from(data, offset)
        if length < _NLA.size:
            break
        out[attr & 0x3FFF] = data[offset + _NLA.size:offset + length]
        offset += (length + 3) & ~3
    return out


def parse_link(data: bytes) -> dict:
    """An RTM_NEWLINK as the walk needs it: index, name, kind, master, link, link_nsid, mtu, up, vxlan."""
    _, _, index, flags, _ = _IFINFO.unpack_from(data)
    a = nlas(data, _IFINFO.size)
    u32 = lambda key: struct.unpack("=I", a[key][:4])[0] if key in a else None  # noqa: E731
    info = nlas(a[IFLA_LINKINFO]) if IFLA_LINKINFO in a else {}
    kind = info.get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode()
    data_ = nlas(info[IFLA_INFO_DATA]) if kind == "vxlan" and IFLA_INFO_DATA in info else {}
    local = data_.get(IFLA_VXLAN_LOCAL)
    return {"index": index, "name": a.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(), "kind": kind,
            "master": u32(IFLA_MASTER), "link": u32(IFLA_LINK) or None,
            "link_nsid": struct.unpack("=i", a[IFLA_LINK_NETNSID][:4])[0] if IFLA_LINK_NETNSID in a else None,
            "mtu": u32(IFLA_MTU) or 0, "up": bool(flags & IFF_UP),
            "vxlan_local": str(IPv4Address(local)) if local and len(local) == 4 else None,
            "vxlan_id": struct.unpack("=I", data_[IFLA_VXLAN_ID][:4])[0] if IFLA_VXLAN_ID in data_ else None}


RTM_NEWNSID, RTM_GETNSID, NETNSA_NSID, NETNSA_FD = 88, 90, 1, 3


def nsid_message(fd: int) -> tuple[int, int, bytes]:
    """The id this socket's namespace gives the namespace open at `fd` (`ip netns list-id`)."""
    return RTM_GETNSID, 0, struct.pack("=Bxxx", socket.AF_UNSPEC) + nla(NETNSA_FD, struct.pack("=I", fd))


def nsid_in(answers: list[tuple[int, bytes]]) -> int | None:
    for kind, data in answers:
        if kind == RTM_NEWNSID:
            raw = nlas(data, 4).get(NETNSA_NSID)
            value = struct.unpack("=i", raw[:4])[0] if raw else -1
            return None if value < 0 else value
    return None


def link_dump_body() -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)


def addr_dump_body() -> bytes:
    return _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)


def parse_address(data: bytes) -> tuple[int, str] | None:
    """(ifindex, IPv4 address) of an RTM_NEWADDR."""
    family, _, _, _, index = _IFADDR.unpack_from(data)
    a = nlas(data, _IFADDR.size)
    raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS)
    if family != socket.AF_INET or not raw or len(raw) != 4:
        return None
    return index, str(IPv4Address(raw))
RTA_SRC, RTA_IIF, RTA_PREFSRC, RTA_TABLE = 2, 3, 7, 15


def route_get_message(dst: str, src: str | None = None, iif: int | None = None) -> tuple[int, int, bytes]:
    """`ip route get DST [from SRC iif IIF]`: the kernel's own lookup (with iif: the input path)."""
    body = _RTMSG.pack(socket.AF_INET, 32, 32 if src else 0, 0, 0, 0, 0, 0, 0)
    body += nla(RTA_DST, IPv4Address(dst).packed)
    if src:
        body += nla(RTA_SRC, IPv4Address(src).packed)
    if iif is not None:
        body += nla(RTA_IIF, struct.pack("=I", iif))
    return RTM_GETROUTE, 0, body


def route_in(answers: list[tuple[int, bytes]]) -> dict | None:
    """The answer to a route_get_message: type, table, oif, gateway, prefsrc."""
    for kind, data in answers:
        if kind != RTM_NEWROUTE:
            continue
        _, _, _, _, table, _, _, rtype, _ = _RTMSG.unpack_from(data)
        out: dict = {"type": rtype, "table": table, "oif": None, "gateway": None, "prefsrc": None}
        offset = _RTMSG.size
        while offset + _NLA.size <= len(data):
            length, attr = _NLA.unpack_from(data, offset)
            if length < _NLA.size:
                break
            value = data[offset + _NLA.size:offset + length]
            attr &= 0x3FFF
            if attr == RTA_OIF:
                out["oif"] = struct.unpack("=I", value)[0]
            elif attr in (RTA_GATEWAY, RTA_PREFSRC) and len(value) == 4:
                out["gateway" if attr == RTA_GATEWAY else "prefsrc"] = str(IPv4Address(value))
            elif attr == RTA_TABLE:
                out["table"] = struct.unpack("=I", value)[0]
            offset += (length + 3) & ~3
        return out
    return None


def link_in(answers: list[tuple[int, bytes]]) -> tuple[int, str | None] | None:
    """(ifindex, MAC) of the first RTM_NEWLINK among a request's answers (a GETLINK or an echo)."""
    for kind, data in answers:
        if kind == RTM_NEWLINK:
            return _IFINFO.unpack_from(data)[2], _mac_in(data)
    return None


def _mac_in(data: bytes) -> str | None:
    """The link's MAC as text: IFLA_ADDRESS comes early among the ~50 attributes of an echo."""
    offset = _IFINFO.size
    while offset + _NLA.size <= len(data):
        length, kind = _NLA.unpack_from(data, offset)
        if length < _NLA.size:
            break
        if kind & 0x3FFF == IFLA_ADDRESS:
            return data[offset + 4:offset + length].hex(":")
        offset += (length + 3) & ~3
    return None
