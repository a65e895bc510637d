"""What SRC and DST of a probe mean, resolved from controller state on the kernel thread.

SRC is a container or a host. DST is a container name or alias (its address on a network it
shares with SRC, else its first address), CONTAINER@NETWORK (its endpoint there), an IPv4 address, a host name, or HOST:PORT / IP:PORT
for a published port. The result is plain data that the probe threads may read freely.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..errors import CnmError, Conflict, InvalidParameter, NotFound
from . import PROTOS, path
from .path import Path

DEFAULT_PORTS = {"tcp": 80, "udp": 7, "http": 80, "dns": 53}


@dataclass
class Target:
    source: str
    source_kind: str  # container | host
    netns: str  # where the probe's sockets are opened
    destination: str  # as given
    dst_ip: str | None
    proto: str
    port: int | None
    dst_name: str | None = None  # the container or host DST names
    path: Path = field(default_factory=Path)
    egress: str | None = None  # the source's interface towards dst (ARP needs it)
    shared_networks: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # for explanations: networks, hosts, what their drivers declare
    error: str | None = None  # a destination that cannot be probed (no address), said as an outcome
    notes: list[str] = field(default_factory=list)  # how DST was found, when it took a DNS query


def _is_ip(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
        return True
    except ValueError:
        return False


def source_of(ctl, ref: str):
    if ref in ctl.hosts:
        return ctl.hosts[ref], "host"
    try:
        c = ctl.container(ref)
    except NotFound:
        raise NotFound(f"No such container or host: {ref}") from None
    if not c.running:
        raise Conflict(f"Container {c.name} is not running: it has no sandbox to send from")
    return c, "container"


def _networks_of(ctl, obj, kind: str) -> list:
    if kind == "host":
        return []
    return [ctl.networks[ctl.endpoints[e].network_id] for e in obj.endpoints]


def _container_address(ctl, c, src_nets: list, network=None) -> str | None:
    """Its address on `network`, else on a network shared with the source, else its first one."""
    eps = [ctl.endpoints[e] for e in c.endpoints if ctl.endpoints[e].ip]
    if c.network_mode == "host":
        return ctl.hosts[c.host].address
    if network is not None:
        eps = [e for e in eps if e.network_id == network.id]
        return eps[0].ip if eps else None
    shared = {n.id for n in src_nets}
    for ep in eps:
        if ep.network_id in shared:
            return ep.ip
    return eps[0].ip if eps else None


def _by_alias(ctl, name: str, src_nets: list):
    shared = {n.id for n in src_nets}
    for ep in ctl.endpoints.values():
        if ep.network_id in shared and name in ep.aliases:
            return ctl.containers[ep.container_id], ctl.endpoints[ep.id].ip
    return None


def _is_container(ctl, ref: str) -> bool:
    try:
        ctl.container(ref)
        return True
    except NotFound:
        return False


def check_proto(proto: str, port) -> tuple[str, int | None]:
    proto = (proto or "icmp").lower()
    if proto not in PROTOS:
        raise InvalidParameter(f"unknown protocol {proto}: use one of {', '.join(PROTOS)}")
    if port is not None:
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise InvalidParameter(f"invalid port {port}: use a number from 1 to 65535") from None
        if not 1 <= port <= 65535:
            raise InvalidParameter(f"invalid port {port}: use a number from 1 to 65535")
        if proto in ("icmp", "arp"):
            raise InvalidParameter(f"--port does not apply to {proto}")
    return proto, port if port is not None else DEFAULT_PORTS.get(proto)


def resolve(ctl, src: str, dst: str, proto: str = "icmp", port=None, network: str | None = None,
            view=None) -> Target:
    """`view`: a KernelView to share between many resolves (a matrix's), else one of its own."""
    if not src or not dst:
        raise InvalidParameter("a probe needs a source and a destination")
    proto, port = check_proto(proto, port)
    given = dst
    source, kind = source_of(ctl, src)
    src_nets = _networks_of(ctl, source, kind)
    net = ctl.network(network) if network else None
    dst_ip, dst_name, error = None, None, None
    host_part, sep, port_part = dst.rpartition(":")
    if sep and port_part.isdigit() and host_part:
        # HOST:PORT, a published port: TCP unless the binding (or --proto) says otherwise.
        if host_part in ctl.hosts:
            dst_ip, dst_name = ctl.hosts[host_part].address, host_part
        elif _is_ip(host_part):
            dst_ip = host_part
        else:
            raise NotFound(f"No such host: {host_part} (use HOST:PORT with a host name or an address)")
        port = check_proto("tcp", port_part)[1]
        if proto in ("icmp", "arp"):
            bound = path.published(ctl, dst_name or "", "udp", port)
            proto = "udp" if bound and not path.published(ctl, dst_name or "", "tcp", port) else "tcp"
    elif _is_ip(dst):
        dst_ip = dst
    elif dst in ctl.hosts:
        dst_ip, dst_name = ctl.hosts[dst].address, dst
    else:
        name, at, net_ref = dst.partition("@")
        if at and name and net_ref and not _is_container(ctl, dst):
            dst, net = name, ctl.network(net_ref)
        try:
            c = ctl.container(dst)
        except NotFound:
            found = _by_alias(ctl, dst, src_nets)
            if found is None:
                raise NotFound(f"No such container, alias, host or address: {dst}") from None
            c, dst_ip = found
        dst_name = c.name
        if dst_ip is None:
            dst_ip = _container_address(ctl, c, src_nets, net)
            if dst_ip is None:
                error = f"{c.name} has no address" + (f" on {net.name}" if net else "") + \
                    (" (network none)" if c.network_mode == "none" else "")
    target = Target(source=source.name, source_kind=kind, netns=source.netns, destination=given,
                    dst_ip=dst_ip, proto=proto, port=port, dst_name=dst_name, error=error)
    if kind == "container" and source.network_mode == "none" and error is None:
        error = f"{source.name} has no network (network none)"
        target.error = error
    if dst_ip is not None and error is None:
        target.path = path.walk(ctl, source, dst_ip, proto, port, view=view)
        target.egress = _on_link_interface(ctl, source, kind, dst_ip)
    target.facts = _facts(ctl, source, kind, dst_name, dst_ip)
    target.shared_networks = target.facts["shared"]
    return target


def _on_link_interface(ctl, source, kind: str, dst_ip: str) -> str | None:
    """The source's interface whose subnet holds dst_ip: where an ARP request for it can go."""
    from .. import underlay

    if kind == "container" and source.network_mode != "host":
        for ep_id in source.endpoints:
            ep = ctl.endpoints[ep_id]
            if ep.address and path.contains(dst_ip, ep.address):
                return ep.ifname
        return None
    host = source.name if kind == "host" else source.host
    if path.contains(dst_ip, str(underlay.SUBNET)):
        return "eth0"
    net = path.bridge_network_for(ctl, host, dst_ip)
    return path.network_bridge(net) if net else None


def _facts(ctl, source, kind: str, dst_name: str | None, dst_ip: str | None) -> dict:
    """What an explanation needs: the networks on both sides and how they are set up."""
    def declares(net, member: str) -> bool:
        try:
            return bool(getattr(ctl.driver(net.driver), member, False))
        except CnmError:  # a plugin that went away: it declares nothing
            return False

    def describe(nets):
        return [{"name": n.name, "driver": n.driver, "host": n.host,
                 "parent_isolated": declares(n, "parent_isolated")} for n in nets]

    src_nets = _networks_of(ctl, source, kind)
    dst_nets, dst_host, dst_kind = [], None, None
    if dst_name and dst_name in ctl.hosts:
        dst_host, dst_kind = dst_name, "host"
    elif dst_name:
        c = ctl.container(dst_name)
        dst_nets, dst_host, dst_kind = _networks_of(ctl, c, "container"), c.host, "container"
        if c.network_mode == "host":
            dst_kind = "host"
    elif dst_ip:
        for ep in ctl.endpoints.values():
            if ep.ip == dst_ip:
                dst_nets = [ctl.networks[ep.network_id]]
                dst_host = ctl.containers[ep.container_id].host
                dst_kind = "container"
                break
    src_host = source.name if kind == "host" else source.host
    src_mode = "host" if kind == "host" or source.network_mode == "host" else "container"
    shared = [n.name for n in src_nets if n.id in {d.id for d in dst_nets}]
    return {"src": describe(src_nets), "dst": describe(dst_nets), "shared": shared, "src_host": src_host,
            "dst_host": dst_host, "src_mode": src_mode, "dst_kind": dst_kind}
