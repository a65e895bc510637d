"""Windows' `transparent` driver (emulated): containers as full stations on the physical LAN.

On Windows, HNS binds an external Hyper-V switch to the host's NIC; each container's vNIC is a
port of it with its own MAC and an address from the LAN (static `--subnet`/`--gateway`, or the
LAN's DHCP server). Frames leave untranslated. Here the external switch is a bridge in the host's
namespace with an uplink, a veth whose other end is a port of the lab's LAN switch (`lab0` in the
underlay namespace), so containers are stations on the LAN next to the host: plain machines reach
them directly and they reach them, with no NAT, and the host reaches them over the LAN as it
reaches any machine there (unlike macvlan, whose parent cannot talk to its children).
"""

from __future__ import annotations

from .. import underlay
from ..osl import arp
from .lan import NOT_L2BRIDGE, LanSwitchDriver


class TransparentDriver(LanSwitchDriver):
    name = "transparent"
    prefix = "tp-"
    not_here = NOT_L2BRIDGE

    def build_switch(self, network, switch: str) -> None:
        arp.silent(network.host, switch)  # the host is a station of the LAN through eth0 only
        self.add_uplink(network, switch)

    def unbuild_switch(self, network, switch: str) -> None:
        self.remove_uplink(network)

    def rules(self, network, switch: str, op: str) -> dict[str, list[str]]:
        # A frame the switch bridges passes the host's netfilter (bridge-nf-call-iptables) on its
        # way to the wire; tracked there, it would come back in through eth0 as a known connection,
        # and a WinNAT mapping on the host's address would never be applied to it. The switch is
        # no part of the host's stack: leave its frames untracked.
        return {**super().rules(network, switch, op), "raw": [f"{op} PREROUTING -i {switch} -j CT --notrack"]}

    def describe(self, network) -> str:
        return (f"uplink {self.uplink_name(network)} to the LAN switch {underlay.SWITCH}; containers are "
                f"stations of {underlay.SUBNET} with their own MACs")

    def path_hops(self, network, endpoint, container) -> list[tuple]:
        uplink = self.uplink_name(network)
        return self.switch_hops(network, endpoint, container) + [
            (network.host, "host", uplink, "out"),
            (underlay.NAMESPACE, "underlay", uplink, "in"),
            (underlay.NAMESPACE, "underlay", underlay.SWITCH, "fwd")]
