"""The parent interface of a macvlan or ipvlan network, as libnetwork chooses and makes it.

  -o parent=eth0       an existing interface of the host (the lab's default: the host's LAN)
  -o parent=eth0.10    an 802.1q sub-interface, made with the network and removed with it
  --internal, or -o parent=   an isolated dummy parent `dm-<id12>`: children reach only each other
Kernel features are checked before anything is made (osl/link_kinds.py), so a kernel without
VLAN or dummy support gets a clear error and no half-made network.
"""

from __future__ import annotations

import re

from ..errors import Conflict, InvalidParameter
from ..names import check_ifname
from ..osl import link_kinds, links, sublinks
from .base import Capabilities, Driver

PARENT = "parent"
DEFAULT_PARENT = "eth0"  # the host's interface on the lab's LAN
VLAN_PARENT = re.compile(r"^(?P<base>[^.]+)\.(?P<vid>\d+)$")


def dummy_name(network) -> str:
    return f"dm-{network.short_id}"


def wanted(network) -> str:
    """The parent the network asks for; '' means an isolated dummy parent."""
    if network.internal:
        return ""  # libnetwork: --internal and an empty -o parent= are the same thing
    value = network.option(PARENT)
    return DEFAULT_PARENT if value is None else value


class Parents:
    """Validates, makes and removes parents for one driver; one network per parent, as Docker."""

    def __init__(self, ctx, driver: str) -> None:
        self.ctx = ctx
        self.driver = driver
        self.users: dict[tuple[str, str], str] = {}  # (host, parent) -> network name

    def validate(self, network) -> None:
        parent = wanted(network)
        ipr = self.ctx.ns.ipr(network.host)
        if parent == "":
            link_kinds.require(self.ctx.ns, "dummy", f"an isolated {self.driver} network (no parent)",
                             "give a parent instead (-o parent=eth0, the host's LAN), or use "
                             "`-d bridge --internal` for a network with no way out")
            return
        check_ifname(parent, "parent interface")
        vlan = VLAN_PARENT.match(parent)
        if vlan and not links.exists(ipr, parent):
            if not links.exists(ipr, vlan["base"]):
                raise InvalidParameter(f"-o parent interface was not found on the host: {vlan['base']}")
            if not 1 <= int(vlan["vid"]) <= 4094:
                raise InvalidParameter(f"invalid VLAN id {vlan['vid']} in parent {parent}: use 1-4094")
            link_kinds.require(self.ctx.ns, "vlan", f"parent {parent} (a VLAN sub-interface of {vlan['base']})",
                             f"use -o parent={vlan['base']} without a VLAN")
        elif not links.exists(ipr, parent):
            raise InvalidParameter(f"-o parent interface was not found on the host: {parent}")
        user = self.users.get((network.host, parent))
        if user is not None:
            raise Conflict(f"network {user} is already using parent interface {parent}")

    def create(self, network) -> str:
        """Make the parent if needed; returns its name (recorded in network.state)."""
        ipr = self.ctx.ns.ipr(network.host)
        parent = wanted(network)
        created = False
        if parent == "":
            parent = sublinks.add_dummy(ipr, dummy_name(network))
            created = True
        elif (vlan := VLAN_PARENT.match(parent)) and not links.exists(ipr, parent):
            sublinks.add_vlan(ipr, vlan["base"], int(vlan["vid"]))
            created = True
        network.state.update(parent=parent, parent_created=created)
        self.users[(network.host, parent)] = network.name
        if created:
            self.ctx.step(network.host, f"created parent {parent} for {self.driver} network {network.name}")
        return parent

    def delete(self, network) -> None:
        parent = network.state.get("parent")
        if parent is None:
            return
        self.users.pop((network.host, parent), None)
        if network.state.get("parent_created"):
            links.delete(self.ctx.ns.ipr(network.host), parent)
            self.ctx.step(network.host, f"removed parent {parent}")

    def reset(self) -> None:
        self.users.clear()


def check_not_a_lab_machine(ctx, endpoint) -> None:
    """On the LAN's own subnet, IPAM does not know the lab machines' addresses: refuse a clash."""
    for host in ctx.hosts():
        if endpoint.ip and endpoint.ip == host.address:
            raise Conflict(f"address {endpoint.ip} is {host.name}'s address on the LAN: give the network an "
                           "--ip-range away from the lab machines (e.g. 192.168.100.128/25) or use --ip")


class ParentedDriver(Driver):
    """What macvlan and ipvlan share: a local network on a parent interface of the host's LAN."""

    capabilities = Capabilities(scope="local")
    on_underlay = True  # the IPAM lets the subnet overlap the LAN (Controller.new_network)
    parent_isolated = True  # the kernel never delivers between a parent and its children

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.parents = Parents(ctx, self.name)

    def device(self, network) -> str:
        return network.state.get("parent", "")

    def reset(self) -> None:
        self.parents.reset()

    def delete_network(self, network) -> None:
        self.parents.delete(network)

    def create_endpoint(self, network, endpoint) -> None:
        check_not_a_lab_machine(self.ctx, endpoint)
