"""The hops a packet takes, as the topology says: request leg, then the reply leg back.

A sandbox reaches its network through a "side": the interfaces from the sandbox out to the
network's switching point. For the bridge driver that is eth0 in the sandbox, the host-side veth,
and the bridge. A driver can describe its own side with an optional method

    path_hops(network, endpoint, container) -> [(namespace, kind, interface, direction), ...]

listed from the sandbox outwards (direction as the packet leaving the sandbox passes it), e.g. an
overlay's ends at the VXLAN device and the host's underlay NIC. Two sides that end on the same
interface meet there (one bridge forwards); two that end on different hosts' eth0 meet across the
underlay switch. Between networks, the host routes: the walk follows the host's addresses,
bridges, published ports (DNAT) and default route (out eth0, MASQUERADE) as Docker's rules do.

Runs on the kernel thread: it reads controller state and returns plain data.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .. import underlay
from .rules import Packet

FLIP = {"out": "in", "in": "out", "fwd": "fwd"}
MAX_HOSTS = 4  # a walk never crosses more hosts than this (no loops in a lab's routing)


@dataclass
class Hop:
    namespace: str
    kind: str  # container | host | underlay
    interface: str
    direction: str  # out | in | fwd
    leg: str = "request"

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.interface)


@dataclass
class Path:
    hops: list[Hop] = field(default_factory=list)  # the request leg
    packets: list[Packet] = field(default_factory=list)  # the packet at each host that forwards it
    ends_in: str | None = None  # the namespace the request is delivered to
    notes: list[str] = field(default_factory=list)  # expected NAT: "DNAT ...", "MASQUERADE ..."
    no_route: str | None = None  # why the source has no way out

    def both_legs(self) -> list[Hop]:
        reply = [Hop(h.namespace, h.kind, h.interface, FLIP[h.direction], "reply") for h in reversed(self.hops)]
        return list(self.hops) + reply

    @property
    def hosts(self) -> list[str]:
        seen = [p.namespace for p in self.packets] + [h.namespace for h in self.hops if h.kind == "host"]
        return list(dict.fromkeys(seen))


def contains(ip: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def network_bridge(net) -> str | None:
    return net.state.get("bridge")


def _overlay_side(ctl, net, ep, container) -> list[tuple]:
    """libnetwork's overlay layout (drivers/overlay.py): per network and host a namespace with br0
    and vxlan0; the VXLAN socket lives in the host, so the encapsulated frame leaves by its eth0."""
    from ..drivers import overlay

    sandbox = overlay.sandbox_name(net.id, container.host)
    return [(container.netns, "container", ep.ifname, "out"), (sandbox, "host", ep.host_ifname, "in"),
            (sandbox, "host", overlay.BRIDGE, "fwd"), (sandbox, "host", overlay.VXLAN, "out"),
            (container.host, "host", "eth0", "out")]


SIDES = {"overlay": _overlay_side}  # drivers without their own path_hops


def side(ctl, net, ep, container) -> list[Hop]:
    """The interfaces from a sandbox out to its network's switching point."""
    drv = ctl.driver(net.driver)
    custom = getattr(drv, "path_hops", None) or (
        (lambda *args: SIDES[net.driver](ctl, *args)) if net.driver in SIDES else None)
    if custom is not None:
        return [Hop(ns, kind, ifname, direction) for ns, kind, ifname, direction in custom(net, ep, container)]
    hops = [Hop(container.netns, "container", ep.ifname, "out")]
    if ep.host_ifname and net.host:
        hops.append(Hop(net.host, "host", ep.host_ifname, "in"))
    bridge = network_bridge(net)
    if bridge and net.host:
        hops.append(Hop(net.host, "host", bridge, "fwd"))
    return hops


def inbound(hops: list[Hop]) -> list[Hop]:
    return [Hop(h.namespace, h.kind, h.interface, FLIP[h.direction]) for h in reversed(hops)]


def underlay_hops(from_host: str, to_host: str | None) -> list[Hop]:
    hops = [Hop(underlay.NAMESPACE, "underlay", f"u-{from_host}", "in")]
    if to_host is None:
        return hops + [Hop(underlay.NAMESPACE, "underlay", underlay.SWITCH, "in")]
    return hops + [Hop(underlay.NAMESPACE, "underlay", underlay.SWITCH, "fwd"),
                   Hop(underlay.NAMESPACE, "underlay", f"u-{to_host}", "out"), Hop(to_host, "host", "eth0", "in")]


def join(a: list[Hop], b: list[Hop]) -> list[Hop]:
    """Two sides of one network meet at the first interface they share (a bridge on one host),
    or, when they share none and both end at a host's eth0, across the underlay switch."""
    b_keys = [h.key for h in b]
    for i, hop in enumerate(a):
        if hop.key in b_keys:
            meet = Hop(hop.namespace, hop.kind, hop.interface, "fwd")
            return a[:i] + [meet] + inbound(b[:b_keys.index(hop.key)])
    if a and b and a[-1].interface == "eth0" and b[-1].interface == "eth0":
        return a + underlay_hops(a[-1].namespace, b[-1].namespace)[:-1] + inbound(b)
    return a + inbound(b)


def egress_endpoint(ctl, container, dst_ip: str):
    """The endpoint the sandbox's kernel would use: an on-link subnet first, else the default route."""
    for ep_id in container.endpoints:
        ep = ctl.endpoints[ep_id]
        if ep.address and contains(dst_ip, ep.address):
            return ep
    return ctl.gateway_endpoint(container)


def endpoint_at(ctl, net, ip: str):
    for ep in ctl.network_endpoints(net):
        if ep.ip == ip:
            return ep
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


def _local_addresses(ctl, host) -> set[str]:
    out = {host.address}
    for net in ctl.networks.values():
        if net.host == host.name and network_bridge(net):
            out.update(cfg.gateway for cfg in net.ipam if cfg.gateway)
    return out


def bridge_network_for(ctl, host: str, ip: str):
    for net in ctl.networks.values():
        if net.host == host and network_bridge(net) and any(contains(ip, cfg.subnet) for cfg in net.ipam):
            return net
    return None


def _dnat_applies(ctl, host: str, iif: str | None) -> bool:
    """Docker's nat DOCKER chain starts with `-i BRIDGE -j RETURN` for each non-internal bridge:
    a published port is DNATed for packets from outside (eth0) or from the host itself, never
    for packets from a container's bridge (Docker's userland proxy serves those; the lab has none)."""
    if iif is None:
        return True
    return not any(net.host == host and network_bridge(net) == iif and not net.internal
                   for net in ctl.networks.values())


def _masquerades(ctl, host: str, src_ip: str, oif: str) -> bool:
    from ..drivers.bridge import MASQ, flag

    return any(net.host == host and network_bridge(net) and not net.internal and flag(net, MASQ)
               and oif != network_bridge(net) and any(contains(src_ip, cfg.subnet) for cfg in net.ipam)
               for net in ctl.networks.values())


def _own_addresses(ctl, source) -> set[str]:
    from ..host import Host

    if isinstance(source, Host) or source.network_mode == "host":
        host = ctl.hosts[source.name if isinstance(source, Host) else source.host]
        return _local_addresses(ctl, host)
    return {ctl.endpoints[e].ip for e in source.endpoints if ctl.endpoints[e].ip}


def _across_the_lan(ctl, side_hops: list[Hop], dst_ip: str, path: Path) -> list[Hop]:
    """A side that ends at the LAN switch (a container that is a LAN station) reaches a lab
    machine's address directly: out of the switch's port to it, into its eth0."""
    other = next((h for h in ctl.hosts.values() if h.address == dst_ip), None)
    if other is None or not side_hops or side_hops[-1].key != (underlay.NAMESPACE, underlay.SWITCH):
        return []
    path.ends_in = other.name
    return [Hop(underlay.NAMESPACE, "underlay", f"u-{other.name}", "out"), Hop(other.name, "host", "eth0", "in")]


def walk(ctl, source, dst_ip: str, proto: str, dport: int | None) -> Path:
    """The request leg from `source` (a Container or a Host) to dst_ip."""
    from ..host import Host

    path = Path()
    l4 = {"http": "tcp", "dns": "udp"}.get(proto, proto)
    l4 = l4 if l4 in ("tcp", "udp") else "icmp"
    own = source.netns
    if contains(dst_ip, "127.0.0.0/8") or dst_ip in _own_addresses(ctl, source):
        path.hops = [Hop(own, "host" if own in ctl.hosts else "container", "lo", "out")]
        path.ends_in = own
        return path
    if isinstance(source, Host) or source.network_mode == "host":
        host_name = source.name if isinstance(source, Host) else source.host
        here, iif = host_name, None
        src_ip = ctl.hosts[host_name].address
    else:
        ep = egress_endpoint(ctl, source, dst_ip)
        if ep is None:
            path.no_route = f"{source.name} has no route to {dst_ip}: it has no network with a gateway"
            return path
        net = ctl.networks[ep.network_id]
        mine = side(ctl, net, ep, source)
        src_ip = ep.ip
        dst_ep = endpoint_at(ctl, net, dst_ip)
        if dst_ep is not None:
            dst_c = ctl.containers[dst_ep.container_id]
            path.hops = join(mine, side(ctl, net, dst_ep, dst_c))
            path.ends_in = dst_c.netns
            if net.host and network_bridge(net):
                bridge = network_bridge(net)
                path.packets.append(Packet(net.host, bridge, bridge, src_ip, dst_ip, l4, dport))
            return path
        if not net.host or not network_bridge(net):
            path.hops = mine + _across_the_lan(ctl, mine, dst_ip, path)
            return path  # a driver we cannot follow past its own side (or the LAN machine it reaches)
        mine[-1].direction = "in"  # up into the host's own stack: it routes from here
        path.hops = mine
        here, iif = net.host, network_bridge(net)
    for _ in range(MAX_HOSTS):
        host = ctl.hosts.get(here)
        if host is None:
            return path
        if dst_ip in _local_addresses(ctl, host):
            target = published(ctl, here, l4, dport)
            if target and _dnat_applies(ctl, here, iif):
                c, ep, net, cport = target
                bridge = network_bridge(net)
                path.notes.append(f"DNAT {dst_ip}:{dport} -> {ep.ip}:{cport} in {here}")
                path.packets.append(Packet(here, iif, bridge, src_ip, ep.ip, l4, cport))
                theirs = inbound(side(ctl, net, ep, c))
                theirs[0].direction = "out"  # the host routes the rewritten packet out of the bridge
                path.hops += theirs
                path.ends_in = c.netns
                return path
            path.packets.append(Packet(here, iif, None, src_ip, dst_ip, l4, dport))
            path.ends_in = here
            return path
        net = bridge_network_for(ctl, here, dst_ip)
        if net is not None:
            bridge = network_bridge(net)
            path.packets.append(Packet(here, iif, bridge, src_ip, dst_ip, l4, dport))
            dst_ep = endpoint_at(ctl, net, dst_ip)
            if dst_ep is None:
                path.hops.append(Hop(here, "host", bridge, "out"))
                return path
            c = ctl.containers[dst_ep.container_id]
            theirs = inbound(side(ctl, net, dst_ep, c))
            theirs[0].direction = "out"
            path.hops += theirs
            path.ends_in = c.netns
            return path
        # Nothing local: out of eth0 towards the LAN's router.
        path.packets.append(Packet(here, iif, "eth0", src_ip, dst_ip, l4, dport))
        path.hops.append(Hop(here, "host", "eth0", "out"))
        if _masquerades(ctl, here, src_ip, "eth0"):
            path.notes.append(f"MASQUERADE {src_ip} -> {host.address} in {here}")
            src_ip = host.address
        other = next((h for h in ctl.hosts.values() if h.address == dst_ip), None)
        if other is not None:
            path.hops += underlay_hops(here, other.name)
            here, iif = other.name, "eth0"
            continue
        path.hops += underlay_hops(here, None)
        path.ends_in = underlay.NAMESPACE if dst_ip == str(underlay.ROUTER) else None
        return path
    return path
