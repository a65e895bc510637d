"""The hops a packet takes, read from the kernel: request leg, then the reply leg back.

Nothing here knows a driver. From the source namespace the walk asks the kernel's own route
lookup (RTM_GETROUTE) for the egress device and next hop, then follows that device's links as the
kernel holds them (osl.lookup): a veth to its peer in another namespace, a port to its bridge, a
bridge's VXLAN port to the device that carries its underlay, a macvlan/ipvlan child to its parent.
Where that "side" meets the side of whoever owns the next hop's address (the same bridge, or the
LAN's switch), the packet crosses; the next namespace then routes it in turn (a host, a router
container, the LAN's router), until a namespace owns the destination. A device the walk cannot
follow is shown as it is (kind "unknown"), never as a made-up hop.

A namespace that forwards or receives the packet is noted as a `Packet` (in and out interface as
netfilter sees them) for rules.py to find the dropping rule or policy. Published ports are DNATed
where the host's rules say so, and the host's nat POSTROUTING rules are read for MASQUERADE.
Why a packet cannot go on is kept as `stop` (no route and the table consulted, a namespace that
does not forward, an unknown device).

Runs on the kernel thread: it reads controller state and the kernel, and returns plain data.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .. import underlay
from ..osl.lookup import KernelView
from .rules import Packet, Rule, matches

FLIP = {"out": "in", "in": "out", "fwd": "fwd", "unknown": "unknown"}
MAX_NAMESPACES = 8  # a walk never crosses more namespaces than this (no loops in a lab's routing)
MAX_LINKS = 8  # nor follows more links from one device
VXLAN_OVERHEAD = 50  # outer Ethernet-less IP (20) + UDP (8) + VXLAN (8) + inner Ethernet (14)


@dataclass
class Hop:
    namespace: str
    kind: str  # container | host | underlay | unknown (a device the walk cannot follow)
    interface: str
    direction: str  # out | in | fwd | unknown
    leg: str = "request"

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.interface)


@dataclass
class Path:
    hops: list[Hop] = field(default_factory=list)  # the request leg
    packets: list[Packet] = field(default_factory=list)  # the packet at each namespace that forwards or takes it
    ends_in: str | None = None  # the namespace the request is delivered to
    notes: list[str] = field(default_factory=list)  # NAT on the way: "DNAT ...", "MASQUERADE ..."
    no_route: str | None = None  # why the source has no way out
    stop: str | None = None  # why the packet goes no further, where the kernel says so
    stop_key: str | None = None  # no-route | no-forwarding | unknown-device | no-neighbour
    stop_in: str | None = None  # the namespace where it stops
    steps: list[tuple[str, str, str]] = field(default_factory=list)  # (namespace, egress, next hop) of each lookup
    mtus: list[tuple[str, str, int, int]] = field(default_factory=list)  # (namespace, device, MTU, encapsulation bytes)
    src_ip: str | None = None  # the request's source address, as the source's lookup chose it
    reply: list[Hop] | None = None  # the reply leg, walked back from the destination (None: the request's, reversed)
    reply_stop: str | None = None  # why the reply goes no further, where the kernel says so
    nat: list[tuple[str, str, str, str]] = field(default_factory=list)  # (namespace, DNAT|MASQUERADE, before, after)
    arrived_from: str | None = None  # the request's source address where it is delivered (after any MASQUERADE)
    invalid_in: list[str] = field(default_factory=list)  # namespaces whose conntrack sees only the reply: INVALID
    encapsulated: bool = False  # the path crosses a VXLAN device (an overlay)
    misrouted: str | None = None  # the next hop's address is on another link than the lookup's egress

    def too_big(self, size: int) -> tuple[str, str, int, int] | None:
        """The first device on the way whose MTU a packet of `size` bytes (DF set) does not fit."""
        return next((m for m in self.mtus if m[2] and size + m[3] > m[2]), None)

    def both_legs(self) -> list[Hop]:
        if self.reply is not None:
            return list(self.hops) + [Hop(h.namespace, h.kind, h.interface, h.direction, "reply") for h in self.reply]
        reply = [Hop(h.namespace, h.kind, h.interface, FLIP[h.direction], "reply") for h in reversed(self.hops)]
        return list(self.hops) + reply

    @property
    def hosts(self) -> list[str]:
        seen = [p.namespace for p in self.packets] + [h.namespace for h in self.hops if h.kind == "host"]
        return list(dict.fromkeys(seen))

    def stopped(self, key: str, namespace: str, reason: str) -> Path:
        self.stop_key, self.stop_in, self.stop = key, namespace, reason
        return self


def contains(ip: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def network_bridge(net) -> str | None:
    return net.state.get("bridge")


def bridge_network_for(ctl, host: str, ip: str):
    for net in ctl.networks.values():
        if net.host == host and network_bridge(net) and any(contains(ip, cfg.subnet) for cfg in net.ipam):
            return net
    return None


def published(ctl, host: str, proto: str, port: int | None):
    """The container, endpoint and port a host's DNAT rule sends (proto, port) to."""
    if port is None or proto not in ("tcp", "udp"):
        return None
    for c in ctl.containers.values():
        if c.host != host or not c.endpoints:
            continue
        for p in c.ports:
            if p.host_port == port and p.proto == proto:
                ep = ctl.endpoints[c.endpoints[0]]
                return c, ep, ctl.networks[ep.network_id], p.container_port
    return None


def inbound(hops: list[Hop]) -> list[Hop]:
    return [Hop(h.namespace, h.kind, h.interface, FLIP[h.direction]) for h in reversed(hops)]


def join(a: list[Hop], b: list[Hop]) -> tuple[list[Hop], Hop | None]:
    """Two sides meet at the first device they share (a bridge, the LAN's switch): the packet goes
    out along `a` and in along `b`. The meeting hop is "in" when it is b's own interface (the
    next namespace takes the packet there), "out" when it is a's (the sender routes out of it)."""
    b_keys = [h.key for h in b]
    for i, hop in enumerate(a):
        if hop.key in b_keys:
            j = b_keys.index(hop.key)
            direction = "in" if j == 0 else "out" if i == 0 else "fwd"
            meet = Hop(hop.namespace, hop.kind, hop.interface, direction)
            return a[:i] + [meet] + inbound(b[:j]), meet
    return a, None


class Walker:
    """One walk's view of the lab: controller state for names and published ports, the kernel
    (a shared KernelView) for everything a packet meets."""

    def __init__(self, ctl, view: KernelView):
        self.ctl, self.view = ctl, view
        self.kinds = {c.netns: "container" for c in ctl.containers.values()}
        self.kinds.update({h.netns: "host" for h in ctl.hosts.values()})
        self.kinds[underlay.NAMESPACE] = "underlay"
        self.hosts = {h.netns: h for h in ctl.hosts.values()}
        self.homes = {c.netns: c.host for c in ctl.containers.values()}
        self._sides: dict[tuple[str, str], list[Hop]] = {}

    def kind(self, ns: str) -> str:
        return self.kinds.get(ns, "host")  # a namespace a driver or plugin made: host-like

    # -- links: from a device out to where its frames are switched -------------------
    def side(self, ns: str, ifname: str) -> list[Hop]:
        key = (ns, ifname)
        if key not in self._sides:
            self._sides[key] = self._side(ns, ifname)
        return [Hop(h.namespace, h.kind, h.interface, h.direction) for h in self._sides[key]]

    def _side(self, ns: str, ifname: str) -> list[Hop]:
        hops = [Hop(ns, self.kind(ns), ifname, "out")]
        lk = self.view.link(ns, ifname)
        for _ in range(MAX_LINKS):
            if lk is None:
                return hops
            if lk.kind == "veth":
                peer = self.view.linked(lk, self._candidates(lk.namespace))
                if peer is None:
                    return hops + [Hop(lk.namespace, "unknown", f"{lk.name}'s peer", "unknown")]
                hops.append(Hop(peer.namespace, self.kind(peer.namespace), peer.name, "in"))
                if peer.master is None:
                    return hops  # a routed end: that namespace takes the packet
                hops.append(Hop(peer.namespace, self.kind(peer.namespace), peer.master, "fwd"))
                hops += self._uplinks(peer.namespace, peer.master, {(peer.namespace, peer.master)})
                lk = self._vxlan_port(hops[-1].namespace, hops[-1].interface)
            elif lk.kind == "bridge":
                lk = self._vxlan_port(lk.namespace, lk.name)
            elif lk.kind == "vxlan":
                carriers = self.view.addresses().get(lk.vxlan_local or "") or [None]
                carrier = carriers[0]
                hops.append(Hop(lk.namespace, self.kind(lk.namespace), lk.name, "out"))
                if carrier is None:
                    return hops + [Hop(lk.namespace, "unknown", f"{lk.name}'s underlay", "unknown")]
                hops.append(Hop(carrier[0], self.kind(carrier[0]), carrier[1], "out"))
                lk = self.view.link(*carrier)
            elif lk.kind in ("macvlan", "ipvlan", "macvtap"):
                parent = self.view.linked(lk, self._candidates(lk.namespace))
                if parent is None:
                    return hops + [Hop(lk.namespace, "unknown", f"{lk.name}'s parent", "unknown")]
                hops.append(Hop(parent.namespace, self.kind(parent.namespace), parent.name, "out"))
                lk = parent
            else:
                if lk.name != "lo":
                    hops.append(Hop(lk.namespace, "unknown", f"{lk.name} ({lk.kind or 'no kind'})", "unknown"))
                return hops
        return hops

    def _uplinks(self, ns: str, bridge: str, seen: set) -> list[Hop]:
        """A bridge cascaded into another by a veth (a vSwitch's uplink to the LAN switch): the
        frames it floods reach the other bridge too, so the side goes on there."""
        for port in self.view.ports(ns, bridge):
            if port.kind != "veth" or port.link_nsid is None:
                continue
            peer = self.view.linked(port, self._candidates(ns))
            if peer is None or peer.master is None or (peer.namespace, peer.master) in seen:
                continue
            seen.add((peer.namespace, peer.master))
            kind = self.kind(peer.namespace)
            return [Hop(ns, self.kind(ns), port.name, "out"), Hop(peer.namespace, kind, peer.name, "in"),
                    Hop(peer.namespace, kind, peer.master, "fwd")] + self._uplinks(peer.namespace, peer.master, seen)
        return []

    def _vxlan_port(self, ns: str, bridge: str):
        """A bridge with a VXLAN port (an overlay) carries frames on to other hosts through it."""
        return next((p for p in self.view.ports(ns, bridge) if p.kind == "vxlan"), None)

    def _candidates(self, ns: str) -> list[str]:
        """Where a link's other end may be: the namespaces of this host first (cheap to find)."""
        host = self.homes.get(ns)
        first = [h for h in self.hosts if h == host or ns in self.hosts]
        near = [n for n in self.view.namespaces() if host and n.endswith("@" + host)]
        return list(dict.fromkeys(first + near + [underlay.NAMESPACE] + self.view.namespaces()))

    # -- netfilter: NAT and the namespaces that see the packet -----------------------------
    def masquerades(self, pkt: Packet) -> bool:
        for i, line in enumerate(self.view.nat_rules(pkt.namespace, "POSTROUTING"), 1):
            rule = Rule(pkt.namespace, "nat", "POSTROUTING", line, i)
            if matches(rule, pkt):
                return rule.target == "MASQUERADE"
        return False

    def rp_filter(self, ns: str, ifname: str) -> str | None:
        """The value the kernel applies: the larger of conf/all and conf/IFNAME (ip-sysctl.rst)."""
        values = [self.view.sysctl(ns, f"net.ipv4.conf.{name}.rp_filter") or "0" for name in ("all", ifname)]
        return max(values)

    def _proxy_arp(self, hop: Hop) -> bool:
        return (hop.direction == "fwd" and self.kind(hop.namespace) == "host"
                and self.view.sysctl(hop.namespace, f"net.ipv4.conf.{hop.interface}.proxy_arp") == "1")

    def bridged(self, hop: Hop) -> bool:
        """Frames a bridge forwards pass the iptables FORWARD chain when br_netfilter is on there."""
        return hop.direction == "fwd" and self.view.sysctl(hop.namespace, "net.bridge.bridge-nf-call-iptables") == "1"

    # -- the walk ---------------------------------------------------------------------------
    def walk(self, source, dst_ip: str, l4: str, dport: int | None) -> Path:
        path = self._walk(source, dst_ip, l4, dport)
        self._reply(path, source, l4)
        overhead = 0
        for hop in path.hops:
            lk = self.view.link(hop.namespace, hop.interface) if hop.kind != "unknown" else None
            if lk is None:
                continue
            # a VXLAN device carries the inner packet; beyond the first (up to the second, which
            # decapsulates) the frame travels inside outer IP, UDP and VXLAN headers
            path.mtus.append((hop.namespace, hop.interface, lk.mtu, 0 if lk.kind == "vxlan" else overhead))
            if lk.kind == "vxlan":
                path.encapsulated = True
                overhead = 0 if overhead else VXLAN_OVERHEAD
        return path

    def _reply(self, path: Path, source, l4: str) -> None:
        """The reply's own way back, walked by the kernel's lookups from where the request ends
        to the address the request came from there: it may differ (an asymmetric route) or be
        lost. Where NAT rewrote the request, conntrack undoes it on the reply (see _walk's `nat`).
        The reply is ESTABLISHED where conntrack saw the request pass, and INVALID (ICMP, TCP)
        where only the reply passes."""
        reply_to = path.arrived_from or path.src_ip
        if path.ends_in is None or not reply_to or path.ends_in == source.netns:
            return
        back = self._walk(_At(path.ends_in), reply_to, l4, None, nat=path.nat)
        if back.ends_in == source.netns:
            path.reply = back.hops
        elif back.stop_key in ("no-route", "no-forwarding", "rp-filter", "routing-loop") or back.misrouted:
            path.reply_stop = back.stop  # the kernel cannot send it back: captures keep the request's way
        tracked = {p.namespace for p in path.packets} | {source.netns}
        for p in back.packets:
            if p.iif is None:
                continue
            if p.namespace in tracked:
                p.ctstates = ("ESTABLISHED",)
            elif l4 != "udp":  # conntrack starts no ICMP or TCP connection from an echo reply or a SYN-ACK
                p.ctstates = ("INVALID",)
                path.invalid_in.append(p.namespace)
            path.packets.append(p)

    def _walk(self, source, dst_ip: str, l4: str, dport: int | None, nat: list | None = None) -> Path:
        """`nat`: the request's rewrites, when this walks its reply: conntrack undoes a MASQUERADE
        before the lookup (the reply's destination becomes the original source again) and a DNAT
        after it (the reply's source becomes the address the request was sent to)."""
        path = Path()
        ns, iif, src_ip = source.netns, None, None
        owners = self.view.addresses()
        visited: set[tuple[str, str]] = set()
        for step in range(MAX_NAMESPACES):
            for where, what, before, after in nat or ():
                if where == ns and what == "MASQUERADE" and dst_ip == after and iif is not None:
                    dst_ip = before
            if (ns, dst_ip) in visited:
                return path.stopped("routing-loop", ns, f"the packet comes back to {ns}: a routing loop, where its "
                                    "TTL runs out (ICMP time exceeded)")
            visited.add((ns, dst_ip))
            if contains(dst_ip, "127.0.0.0/8") or any(o[0] == ns for o in owners.get(dst_ip, [])):
                if step == 0:
                    path.hops = [Hop(ns, self.kind(ns), "lo", "out")]
                    path.ends_in = ns
                    return path
                rewritten = self._dnat(path, ns, iif, l4, dport, dst_ip)
                if rewritten is not None:
                    dst_ip, dport = rewritten
                elif self.rp_filter(ns, iif or "lo") == "0":  # nothing in the input lookup can refuse it
                    return self._delivered(path, ns, iif, src_ip, dst_ip, l4, dport)
            route = self.view.route(ns, dst_ip, src=src_ip, iif=iif)  # with iif: the kernel's input lookup
            if route.error or route.type in ("unreachable", "blackhole", "prohibit"):
                return self._no_route(path, ns, iif, src_ip, dst_ip, route)
            if route.type == "local":
                return self._delivered(path, ns, iif, src_ip, dst_ip, l4, dport)
            src_ip = src_ip or route.prefsrc
            path.src_ip = path.src_ip or src_ip
            oif = route.oif or "?"
            pkt = Packet(ns, iif, oif, src_ip or "", dst_ip, l4, dport, self._ctstates(path))
            if iif is not None or self.kind(ns) == "host":
                path.packets.append(pkt)
            if iif is not None and self.kind(ns) == "host" and self.masquerades(pkt):
                # the address MASQUERADE picks: the one this host's own lookup would send from
                # (an input lookup, with iif, answers no preferred source)
                masq = route.prefsrc or self.view.route(ns, dst_ip).prefsrc
                if masq:
                    path.notes.append(f"MASQUERADE {src_ip} -> {masq} in {ns}")
                    path.nat.append((ns, "MASQUERADE", src_ip or "", masq))
                    src_ip = masq
            for where, what, before, after in nat or ():
                if where == ns and what == "DNAT" and src_ip == after:
                    src_ip = before
            nexthop = route.gateway or dst_ip
            path.steps.append((ns, oif, nexthop))
            mine = self.side(ns, oif)
            found, hops, meet = None, mine, None
            for owner in owners.get(nexthop, []):  # the one on the same link (172.17.0.1 is on every host)
                if owner[0] == ns:
                    continue
                hops, meet = join(mine, self.side(*owner))
                if meet is not None:
                    found = owner
                    break
            path.hops += hops if meet is not None else mine
            if found is None and self._proxy_arp(mine[-1]):
                # the bridge's own namespace answers ARP for the next hop (proxy ARP), and routes it
                mine[-1].direction = "in"
                ns, iif = mine[-1].namespace, mine[-1].interface
                continue
            elsewhere = [o for o in owners.get(nexthop, []) if o[0] != ns]
            if found is None and elsewhere and any(h.kind == "unknown" for h in mine):
                return path.stopped("unknown-device", ns, f"cnmlab cannot follow {ns}'s {oif} to {nexthop}: "
                                    "a device of a kind it does not know is on the way")
            if found is None and elsewhere:
                # every device of the link is known, and the address is on another link: the
                # lookup sends the packet the wrong way (a subnet that shadows the LAN's route)
                owner = elsewhere[0]
                path.misrouted = (f"{nexthop} is {owner[0]}'s address (on its {owner[1]}), on another link than "
                                  f"{ns}'s {oif}, where {ns}'s route to it leads")
                return path.stopped("no-neighbour", ns, path.misrouted)
            if found is None:
                return path.stopped("no-neighbour", ns, f"nothing on {ns}'s {oif} link has {nexthop}: "
                                    "its ARP request goes unanswered")
            if self.bridged(meet):
                path.packets.append(Packet(meet.namespace, meet.interface, meet.interface, src_ip or "", dst_ip,
                                           l4, dport, self._ctstates(path)))
            ns, iif = found
        return path

    def _delivered(self, path: Path, ns: str, iif, src_ip, dst_ip: str, l4: str, dport) -> Path:
        if self.kind(ns) == "host":
            path.packets.append(Packet(ns, iif, None, src_ip or "", dst_ip, l4, dport, self._ctstates(path)))
        path.ends_in = ns
        path.arrived_from = src_ip
        return path

    def _dnat(self, path: Path, ns: str, iif: str | None, l4: str, dport, dst_ip: str) -> tuple[str, int] | None:
        """A published port on this host: the packet is rewritten to the container and routed on."""
        host = self.hosts.get(ns)
        target = published(self.ctl, host.name, l4, dport) if host else None
        if target is None or not _dnat_applies(self.ctl, host.name, iif):
            return None
        _, ep, _, cport = target
        path.notes.append(f"DNAT {dst_ip}:{dport} -> {ep.ip}:{cport} in {ns}")
        path.nat.append((ns, "DNAT", dst_ip, ep.ip))
        return ep.ip, cport

    @staticmethod
    def _ctstates(path: Path) -> tuple[str, ...]:
        """conntrack's view of a request: NEW, and DNAT too once a DNAT rewrote it."""
        return ("NEW", "DNAT") if any(what == "DNAT" for _, what, _, _ in path.nat) else ("NEW",)

    def _no_route(self, path: Path, ns: str, iif: str | None, src_ip, dst_ip: str, route) -> Path:
        # fib_validate_source fails a reverse path check with EXDEV (forwarding) or EINVAL (local)
        rpf = self.rp_filter(ns, iif) if iif is not None else "0"
        if rpf != "0" and ("cross-device" in (route.error or "") or "Invalid argument" in (route.error or "")):
            mode = {"1": "strict", "2": "loose"}.get(rpf, "on")
            return path.stopped("rp-filter", ns, f"{ns} drops it by reverse path filtering (rp_filter {mode} on "
                                f"{iif}): its own route back to {src_ip} does not leave by {iif}")
        if iif is not None and self.view.sysctl(ns, "net.ipv4.ip_forward") == "0":
            own = self.view.route(ns, dst_ip)  # would it know the way, if it forwarded?
            if own.error or own.type in ("unreachable", "blackhole", "prohibit"):
                return path.stopped("no-route", ns, f"{ns} has no route to {dst_ip} (table {own.table}: "
                                    f"{own.error or own.type}), and does not forward (net.ipv4.ip_forward = 0)")
            what = "a container is not a router" if self.kind(ns) == "container" else "it is not a router"
            return path.stopped("no-forwarding", ns, f"{ns} does not forward packets (net.ipv4.ip_forward = 0): {what}")
        reason = f"{ns} has no route to {dst_ip} (table {route.table}: {route.error or route.type})"
        if iif is None:
            path.no_route = reason
        return path.stopped("no-route", ns, reason)


@dataclass
class _At:
    """Where a reply starts: a namespace (a walk's source only needs its netns)."""

    netns: str


def _dnat_applies(ctl, host: str, iif: str | None) -> bool:
    """Docker's nat DOCKER chain starts with `-i BRIDGE -j RETURN` for each non-internal bridge:
    a published port is DNATed for packets from outside (eth0) or from the host itself, never
    for packets from a container's bridge (Docker's userland proxy serves those; the lab has none)."""
    if iif is None:
        return True
    return not any(net.host == host and network_bridge(net) == iif and not net.internal
                   for net in ctl.networks.values())


def walk(ctl, source, dst_ip: str, proto: str, dport: int | None, view: KernelView | None = None) -> Path:
    """The request leg from `source` (a Container or a Host) to dst_ip, as the kernel routes it."""
    l4 = {"http": "tcp", "dns": "udp"}.get(proto, proto)
    l4 = l4 if l4 in ("tcp", "udp") else "icmp"
    if view is not None:
        if view.walker is None:
            view.walker = Walker(ctl, view)
        return view.walker.walk(source, dst_ip, l4, dport)
    with KernelView() as own:
        return Walker(ctl, own).walk(source, dst_ip, l4, dport)
