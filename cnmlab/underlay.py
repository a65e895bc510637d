"""The lab's "physical" LAN: a switch namespace with a bridge, and every host's eth0 plugged in.

The switch namespace also holds the LAN's router address (.1), the hosts' default gateway. The
LAN's addresses belong to the hosts and to the endpoints of networks on the LAN's own subnet
(macvlan); a new host takes the one asked for or the next free one (`pick_address`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

from .errors import Conflict, InvalidParameter
from .ipam import parse_address, parse_subnet
from .osl import links
from .osl.netns import Namespaces

if TYPE_CHECKING:
    from .endpoint import Endpoint
    from .host import Host
    from .network import Network

NAMESPACE = "underlay"
SWITCH = "lab0"
SUBNET = IPv4Network("192.168.100.0/24")
ROUTER = SUBNET.network_address + 1
FIRST_HOST = 11


def build_switch(ns: Namespaces) -> None:
    ipr = ns.create(NAMESPACE)
    links.add_bridge(ipr, SWITCH)
    links.add_address(ipr, SWITCH, str(ROUTER), SUBNET.prefixlen)
    links.set_up(ipr, SWITCH)
    links.set_promisc(ipr, SWITCH)  # so captures on the switch see frames it forwards


def next_address(taken: list[str]) -> str:
    used = {IPv4Address(a) for a in taken}
    for offset in range(FIRST_HOST, SUBNET.num_addresses - 1):
        candidate = SUBNET.network_address + offset
        if candidate not in used:
            return str(candidate)
    raise RuntimeError("the underlay LAN is full")


def addresses_in_use(hosts: Iterable[Host], networks: Mapping[str, Network],
                     endpoints: Iterable[Endpoint]) -> list[str]:
    """The hosts' addresses, and those other drivers' endpoints (macvlan) hold on the LAN."""
    on_lan = {n.id for n in networks.values() if any(parse_subnet(c.subnet).subnet_of(SUBNET) for c in n.ipam)}
    return [h.address for h in hosts] + [ep.ip for ep in endpoints if ep.ip and ep.network_id in on_lan]


def pick_address(address: str | None, taken: list[str]) -> str:
    """A new host's address: the one asked for if the LAN has it free, else the next free one."""
    if not address:
        return next_address(taken)
    ip = parse_address(address)
    if ip not in SUBNET or ip in (ROUTER, SUBNET.broadcast_address):
        raise InvalidParameter(f"Invalid address {address}: the underlay LAN is {SUBNET} and {ROUTER} is its router")
    if address in taken:
        raise Conflict(f"Address already in use: {address} on the underlay")
    return address


def plug_host(ns: Namespaces, host: Host) -> None:
    """Create the host's namespace and wire its eth0 to the switch (all or nothing)."""
    ipr = ns.create(host.name, forwarding=not host.plain)
    try:
        switch = ns.ipr(NAMESPACE)
        if links.exists(switch, host.underlay_port):  # left by a host whose namespace is still going away
            links.delete(switch, host.underlay_port)
        links.add_veth(switch, host.underlay_port, "eth0", host.name, mtu=host.mtu)
        links.set_master(switch, host.underlay_port, SWITCH)
        links.set_up(switch, host.underlay_port)
        links.set_up(ipr, "eth0")
        links.add_address(ipr, "eth0", host.address, host.prefixlen)
        links.set_default_route(ns.rtnl(host.name), str(ROUTER), static=True)
    except BaseException:
        ns.delete(host.name)
        raise


def unplug_host(ns: Namespaces, host: Host) -> None:
    # The switch port goes first, synchronously: a namespace's links die later, in the kernel's
    # cleanup work, and `host add` of the same name would meet the old port ("File exists").
    with contextlib.suppress(Exception):
        links.delete(ns.ipr(NAMESPACE), host.underlay_port)
    ns.delete(host.name)
