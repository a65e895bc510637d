"""The macvlan driver: containers plugged straight into an existing LAN (or VLAN), as libnetwork does it.

Each endpoint is a macvlan child of the network's parent (default: the host's eth0 on the lab's
LAN), born inside the sandbox with its own MAC (02:42 + IP). Addresses come from the LAN's own
subnet (`--subnet 192.168.100.0/24 --gateway 192.168.100.1`), so containers talk directly to
machines on the LAN that are not Docker at all (`cnmlab host add --plain legacy`).

The kernel rule every macvlan user meets: a parent and its children cannot talk to each other.
Frames the host sends out of eth0 leave for the wire; the switch never sends them back to the
port they came from, and the macvlan code does not hand them to the children. So host1 (and
anything host1 routes, e.g. its bridge containers) cannot reach host1's macvlan containers.
"""

from __future__ import annotations

from ..errors import InvalidParameter
from ..osl import link_kinds, sublinks
from ..osl.rtnl import Rtnl
from .base import JoinInfo
from .bridge import container_mac
from .parent import PARENT, ParentedDriver

MODE = "macvlan_mode"
MODES = ("bridge", "vepa", "private", "passthru")

HOST_CHILD_REASON = ("macvlan host-child: the kernel does not deliver between a macvlan parent and its "
                     "children, so a host cannot reach its own macvlan containers (nor they the host)")


def host_child_reason(network, host: str) -> str | None:
    """Why traffic between `host` (or anything it routes) and a child of `network` is lost, if it is."""
    if network.driver == MacvlanDriver.name and network.host == host and not network.internal:
        return HOST_CHILD_REASON
    return None


class MacvlanDriver(ParentedDriver):
    name = "macvlan"
    option_keys = (PARENT, MODE)
    host_child_reason = HOST_CHILD_REASON

    # -- networks ---------------------------------------------------------------
    def validate(self, network) -> None:
        mode = network.option(MODE, "bridge")
        if mode not in MODES:
            raise InvalidParameter(f"requested macvlan mode '{mode}' is not valid, "
                                   f"'bridge' mode is the macvlan driver default (use {', '.join(MODES)})")
        link_kinds.require(self.ctx.ns, "macvlan", "a macvlan network")
        self.parents.validate(network)

    def create_network(self, network) -> None:
        parent = self.parents.create(network)
        self.ctx.step(network.host, f"macvlan network {network.name} on parent {parent}, "
                      f"mode {network.option(MODE, 'bridge')}")

    # -- endpoints --------------------------------------------------------------
    def create_endpoint(self, network, endpoint) -> None:
        super().create_endpoint(network, endpoint)
        if not endpoint.mac and endpoint.ip and network.option(MODE) != "passthru":
            endpoint.mac = container_mac(endpoint.ip)

    def join(self, network, endpoint, container) -> JoinInfo:
        host_ipr = self.ctx.ns.ipr(network.host)
        parent = network.state["parent"]
        mode = network.option(MODE, "bridge")
        sublinks.add_child(host_ipr, "macvlan", parent, endpoint.ifname, container.netns, "macvlan",
                           mac=endpoint.mac or None, macvlan_mode=mode)
        box = self.ctx.ns.rtnl(container.netns)  # bare netlink: no pyroute2 handle per sandbox
        try:
            index, mac = box.link(endpoint.ifname)
            endpoint.mac = endpoint.mac or mac
            ip, prefix = endpoint.address.split("/")
            box.request([Rtnl.up_message(index), Rtnl.address_message(index, ip, int(prefix))])
        except BaseException:
            box.request([Rtnl.delete_message(box.link(endpoint.ifname)[0])])
            raise
        self.ctx.step(container.name, f"created macvlan {endpoint.ifname} ({mode}) on {network.host}'s {parent} "
                      f"in {container.name}, address {endpoint.address}")
        return JoinInfo(gateway=endpoint.gateway)

    def leave(self, network, endpoint, container, teardown: bool = False) -> None:
        if not teardown:
            box = self.ctx.ns.rtnl(container.netns)
            box.request([Rtnl.delete_message(box.link(endpoint.ifname)[0])])
            self.ctx.step(container.name, f"deleted macvlan {endpoint.ifname}")
