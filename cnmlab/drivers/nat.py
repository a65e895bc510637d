"""Windows' `nat` driver (emulated): containers behind WinNAT on an internal vSwitch.

On Windows, HNS makes an internal Hyper-V switch, gives the host a vNIC on it holding the
gateway, and asks WinNAT to translate the network's internal prefix to the host's external
address. Port mappings (`-p`) are WinNAT static mappings on the external address. Here:

  - the switch is a bridge holding the gateway (vswitch.py); without --subnet the network takes
    the first free 172.16.0.0/12 /20, as Windows picks a 172.x /20;
  - WinNAT translates what leaves the prefix to the host's address (SNAT), lets in only replies
    and static mappings, and each mapping is a DNAT for packets that arrive from the LAN on the
    host's address;
  - as WinNAT documents, a mapping is not looped back: the host itself and the network's own
    containers reach a container at its internal address and port, not at the host's address;
  - so a container reaches its own switch and what lies outside, never another nat network on
    the host ("Cross subnet: not supported"): HNS-VSWITCH drops what enters a prefix unasked.
Sources: docs/drivers.md ("Docker on Windows").
"""

from __future__ import annotations

import contextlib
from ipaddress import IPv4Network

from ..osl import iptables, links
from .vswitch import CHAIN, INTERFACE, LAN_IF, OUTBOUNDNAT, OUTBOUNDNAT_EXCEPTIONS, VLANID, VSwitchDriver

WINDOWS_POOL = IPv4Network("172.16.0.0/12")
NOT_HERE = "a nat network sits on an internal switch, bound to no NIC"


class NatDriver(VSwitchDriver):
    name = "nat"
    prefix = "nat-"
    not_here = {
        INTERFACE: NOT_HERE,
        VLANID: NOT_HERE,
        OUTBOUNDNAT: "WinNAT always translates what leaves a nat network (the option is l2bridge's)",
        OUTBOUNDNAT_EXCEPTIONS: "WinNAT always translates what leaves a nat network (the option is l2bridge's)",
    }

    @staticmethod
    def default_pools() -> list[IPv4Network]:
        """Where the controller looks for a subnet when none is given (Windows: a 172.x /20)."""
        return list(WINDOWS_POOL.subnets(new_prefix=20))

    def build_switch(self, network, switch: str) -> None:
        ipr = self.ctx.ns.ipr(network.host)
        for cfg in network.ipam:
            if cfg.gateway:
                links.add_address(ipr, switch, cfg.gateway, int(cfg.subnet.split("/")[1]))
        network.state["bridge"] = switch  # the host routes for it, as for a bridge network (probe/path.py)

    def describe(self, network) -> str:
        cfg = network.ipam[0] if network.ipam else None
        return (f"gateway {cfg.gateway} on the host's vNIC, WinNAT {cfg.subnet} -> the host's address"
                if cfg else "no addresses")

    def rules(self, network, switch: str, op: str) -> dict[str, list[str]]:
        first = f"-I {CHAIN} 1" if op == "-A" else f"{op} {CHAIN}"  # drops go above every accept
        filt = [
            f"{first} ! -i {switch} -o {switch} -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT "
            f"-m comment --comment \"WinNAT: nothing enters an internal prefix unasked\" -j DROP",
            f"{op} {CHAIN} -i {switch} -j ACCEPT",  # its own switch, the LAN, anything outside
            f"{op} {CHAIN} -o {switch} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
        ]
        nat = [f"{op} POSTROUTING -s {cfg.subnet} ! -o {switch} -j SNAT --to-source {self._external(network)}"
               for cfg in network.ipam]
        return {"filter": filt, "nat": nat}

    # -- ports: WinNAT static mappings ---------------------------------------------
    def publish(self, network, endpoint, container, ports) -> None:
        if ports:
            iptables.restore(network.host, self._mappings(network, endpoint, ports, "-A"))
            self.ctx.step(network.host, "WinNAT static mapping " + ", ".join(
                f"{self._external(network)}:{p.host_port}/{p.proto} -> {endpoint.ip}:{p.container_port}"
                for p in ports))

    def unpublish(self, network, endpoint, container, ports) -> None:
        if ports:
            with contextlib.suppress(iptables.IptablesError):
                iptables.restore(network.host, self._mappings(network, endpoint, ports, "-D"))

    def _external(self, network) -> str:
        return self.ctx.host(network.host).address

    def _mappings(self, network, endpoint, ports, op: str) -> dict[str, list[str]]:
        ext = self._external(network)
        return {"nat": [f"{op} PREROUTING -d {ext}/32 -i {LAN_IF} -p {p.proto} -m {p.proto} --dport {p.host_port} "
                        f"-j DNAT --to-destination {endpoint.ip}:{p.container_port}" for p in ports]}
