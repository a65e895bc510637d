"""Windows' `l2bridge` driver (emulated): containers in the host's subnet, behind the host's MAC.

On Windows the external vSwitch rewrites the source MAC of every frame a container sends to the
host's, and delivers frames that arrive for the host's MAC by their IP address; a capture on the
LAN shows one MAC for the host and all its containers. Addresses are static, from the host's own
prefix. Here the switch is a bridge without an uplink, and the host stands in for the MAC rewrite
at layer 3 (osl/arp.py):

  - on the LAN, the host answers ARP for each container's address with its own MAC (a proxy
    neighbour entry on eth0) and delivers what arrives through a /32 route into the switch;
  - on the switch, it answers its containers' ARP for the rest of the LAN (proxy_arp), so what
    they send to the LAN leaves through eth0 with the host's MAC;
  - containers on the same switch still reach each other directly, bridged.
The difference from Windows: the host routes, so a frame's TTL drops by one on the way.
"""

from __future__ import annotations

from .. import underlay
from ..osl import arp
from .lan import LanSwitchDriver
from .vswitch import CHAIN, LAN_IF, NOT_EMULATED, OUTBOUNDNAT, OUTBOUNDNAT_EXCEPTIONS

NOTHING_BEYOND = "nothing lies beyond the LAN's router in the lab, so there is nothing to translate for"


class L2BridgeDriver(LanSwitchDriver):
    name = "l2bridge"
    prefix = "l2b-"
    not_emulated = {**NOT_EMULATED, OUTBOUNDNAT: NOTHING_BEYOND, OUTBOUNDNAT_EXCEPTIONS: NOTHING_BEYOND}

    def build_switch(self, network, switch: str) -> None:
        arp.proxy(network.host, switch)
        arp.prompt(network.host, LAN_IF)  # its proxy neighbour entries answer for the containers

    def describe(self, network) -> str:
        return f"the host answers ARP for its containers on {LAN_IF}: one MAC on the LAN for all of them"

    def rules(self, network, switch: str, op: str) -> dict[str, list[str]]:
        return {"filter": [f"{op} {CHAIN} -i {switch} -j ACCEPT", f"{op} {CHAIN} -o {switch} -j ACCEPT"]}

    def join(self, network, endpoint, container):
        info = super().join(network, endpoint, container)
        arp.add_station(self.ctx.ns.ipr(network.host), endpoint.ip, LAN_IF, network.state["switch"])
        self.ctx.step(network.host, f"answers ARP for {endpoint.ip} on {LAN_IF} with its own MAC")
        return info

    def leave(self, network, endpoint, container, teardown: bool = False) -> None:
        arp.remove_station(self.ctx.ns.ipr(network.host), endpoint.ip, LAN_IF, network.state["switch"])
        super().leave(network, endpoint, container, teardown)

    def path_hops(self, network, endpoint, container) -> list[tuple]:
        hops = self.switch_hops(network, endpoint, container)
        hops[-1] = (network.host, "host", network.state["switch"], "in")  # up into the host, which routes
        return hops + [(network.host, "host", LAN_IF, "out"),
                       (underlay.NAMESPACE, "underlay", f"u-{network.host}", "in"),
                       (underlay.NAMESPACE, "underlay", underlay.SWITCH, "fwd")]
