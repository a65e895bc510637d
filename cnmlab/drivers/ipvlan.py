"""The ipvlan driver, as libnetwork builds it: children share the parent's MAC and differ by IP.

  ipvlan_mode=l2 (default)  children switch among themselves on the parent's L2 segment and use
                            the IPAM gateway on the LAN, like macvlan but with one MAC;
  ipvlan_mode=l3            the parent routes: no broadcast, no ARP, no gateway. (libnetwork also
                            adds `default dev eth0`; the lab's controller routes only through
                            gateways, so an l3 sandbox here reaches its own subnet only.)
  ipvlan_flag=bridge|private|vepa   as the kernel's ipvlan flags.
Parents are handled as for macvlan (drivers/parent.py). Many kernels (this lab's CI among them)
are built without ipvlan: creating a network then fails before anything is made.
"""

from __future__ import annotations

from ..errors import InvalidParameter
from ..osl import link_kinds, links, sublinks
from .base import JoinInfo
from .parent import PARENT, ParentedDriver

MODE, FLAG = "ipvlan_mode", "ipvlan_flag"
MODES = {"l2": 0, "l3": 1, "l3s": 2}  # IPVLAN_MODE_* in the kernel's uapi
FLAGS = {"bridge": 0, "private": 1, "vepa": 2}  # IPVLAN_F_*

HOST_CHILD_REASON = ("ipvlan host-child: the kernel does not deliver between an ipvlan parent and its "
                     "children (l2 mode), so a host cannot reach its own ipvlan containers")


class IpvlanDriver(ParentedDriver):
    name = "ipvlan"
    option_keys = (PARENT, MODE, FLAG)
    host_child_reason = HOST_CHILD_REASON

    def validate(self, network) -> None:
        mode, flag = network.option(MODE, "l2"), network.option(FLAG, "bridge")
        if mode not in MODES:
            raise InvalidParameter(f"requested ipvlan mode '{mode}' is not valid, 'l2' mode is the ipvlan "
                                   f"driver default (use {', '.join(MODES)})")
        if flag not in FLAGS:
            raise InvalidParameter(f"requested ipvlan flag '{flag}' is not valid (use {', '.join(FLAGS)})")
        link_kinds.require(self.ctx.ns, "ipvlan", "an ipvlan network",
                         "use -d macvlan for containers on the LAN (one MAC each instead of a shared one)")
        self.parents.validate(network)

    def create_network(self, network) -> None:
        parent = self.parents.create(network)
        self.ctx.step(network.host, f"ipvlan network {network.name} on parent {parent}, mode {network.option(MODE, 'l2')}")

    def join(self, network, endpoint, container) -> JoinInfo:
        mode = network.option(MODE, "l2")
        host_ipr = self.ctx.ns.ipr(network.host)
        sublinks.add_child(host_ipr, "ipvlan", network.state["parent"], endpoint.ifname, container.netns, "ipvlan",
                           ipvlan_mode=MODES[mode], ipvlan_flags=FLAGS[network.option(FLAG, "bridge")])
        box = self.ctx.ns.ipr(container.netns)
        try:
            links.set_up(box, endpoint.ifname)
            endpoint.mac = links.mac_of(box, endpoint.ifname)  # the parent's MAC: ipvlan children share it
            ip, prefix = endpoint.address.split("/")
            links.add_address(box, endpoint.ifname, ip, int(prefix))
        except BaseException:
            links.delete(box, endpoint.ifname)
            raise
        self.ctx.step(container.name, f"created ipvlan {endpoint.ifname} ({mode}) on {network.state['parent']}")
        return JoinInfo(gateway=endpoint.gateway if mode == "l2" else None)

    def leave(self, network, endpoint, container, teardown: bool = False) -> None:
        if not teardown:
            links.delete(self.ctx.ns.ipr(container.netns), endpoint.ifname)
