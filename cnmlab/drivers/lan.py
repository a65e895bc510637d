"""What transparent and l2bridge share: an external vSwitch, on the host's own LAN.

On Windows both bind an external Hyper-V switch to the host's NIC, so containers take addresses
from the LAN's own prefix, statically (`--subnet` of the LAN, `--gateway` its router). Here the
LAN is the lab's underlay: a network must say `--subnet 192.168.100.0/24`, and IPAM lets it
overlap the LAN (as macvlan's may); a container may not take a lab machine's address.
"""

from __future__ import annotations

from ipaddress import IPv4Network

from .. import underlay
from ..errors import Conflict, InvalidParameter
from ..osl import links
from .vswitch import INTERFACE, LAN_IF, NETWORKNAME, OUTBOUNDNAT, OUTBOUNDNAT_EXCEPTIONS, VSwitchDriver


class LanSwitchDriver(VSwitchDriver):
    on_underlay = True  # the IPAM lets the subnet overlap the LAN (Controller.new_network)
    options = (NETWORKNAME, INTERFACE)

    def validate(self, network) -> None:
        super().validate(network)
        nic = network.option(INTERFACE)
        if nic is not None and nic != LAN_IF:
            raise InvalidParameter(f"interface {nic} was not found on host {network.host}: a lab host has one NIC "
                                   f"on the LAN, {LAN_IF} (-o {INTERFACE}={LAN_IF})")

    def check_ipam(self, network) -> None:
        super().check_ipam(network)
        cfg = network.ipam[0] if network.ipam else None
        if cfg is None or not cfg.user_subnet:
            raise InvalidParameter(f"a {self.name} network needs the LAN's subnet and router: "
                                   f"--subnet {underlay.SUBNET} --gateway {underlay.ROUTER}")
        if IPv4Network(cfg.subnet, strict=False) != underlay.SUBNET:
            raise InvalidParameter(f"subnet {cfg.subnet} does not match the LAN the host is on ({underlay.SUBNET}): "
                                   f"a {self.name} network takes the LAN's own subnet")

    def create_endpoint(self, network, endpoint) -> None:
        # IPAM does not know the lab machines' addresses on the LAN (Windows has no --ip-range).
        for host in self.ctx.hosts():
            if endpoint.ip and endpoint.ip == host.address:
                raise Conflict(f"address {endpoint.ip} is {host.name}'s address on the LAN: give the container "
                               "a free one with --ip")
        super().create_endpoint(network, endpoint)

    # -- the uplink: a port of the LAN switch, for a switch bound to the host's NIC --
    @staticmethod
    def uplink_name(network) -> str:
        return ("up-" + network.id)[:15]

    def add_uplink(self, network, switch: str) -> None:
        """A veth from the switch to the LAN switch: the external switch's link to the wire."""
        ipr = self.ctx.ns.ipr(network.host)
        lan = self.ctx.ns.ipr(underlay.NAMESPACE)
        uplink = self.uplink_name(network)
        links.add_veth(lan, uplink, uplink, network.host)
        try:
            links.set_master(lan, uplink, underlay.SWITCH)
            links.set_up(lan, uplink)
            links.set_master(ipr, uplink, switch)
            links.set_up(ipr, uplink)
        except BaseException:
            self.remove_uplink(network)
            raise

    def remove_uplink(self, network) -> None:
        links.delete(self.ctx.ns.ipr(underlay.NAMESPACE), self.uplink_name(network))  # both ends go


NOT_L2BRIDGE = {
    OUTBOUNDNAT: "it is l2bridge's (outbound NAT to the host's address)",
    OUTBOUNDNAT_EXCEPTIONS: "it is l2bridge's (outbound NAT to the host's address)",
}
