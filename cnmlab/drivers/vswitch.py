"""What the Windows drivers share: a Hyper-V virtual switch, emulated with a Linux bridge.

Docker on Windows asks the Host Networking Service (HNS) for a Hyper-V vSwitch per network and
plugs a vNIC per container into it. The lab's emulation (nat.py, transparent.py, l2bridge.py):

  - the switch is a bridge in the host's namespace (named after the driver and network, or
    `-o com.docker.network.windowsshim.networkname=NAME`), and each container's vNIC is a veth
    plugged into it, as the bridge driver plugs its own;
  - its forwarding rules live in one filter chain, HNS-VSWITCH, appended to FORWARD: there are no
    Linux-style DOCKER-ISOLATION chains on Windows;
  - options are Docker on Windows' `com.docker.network.windowsshim.*`; one that Windows has but
    that does not apply to the driver (or that the lab cannot emulate) is refused in one line, as
    are the `network create` flags Windows refuses (--internal, --ip-range, --aux-address).

Every such network is labelled `cnmlab.emulates=windows`, so inspect says it is an emulation.
"""

from __future__ import annotations

import contextlib
import errno
import secrets

from ..errors import InvalidParameter
from ..names import check_ifname
from ..osl import iptables, links
from .base import Capabilities, Driver, JoinInfo
from .bridge import name_veth_endpoint, network_full, plug_veth_endpoint

SHIM = "com.docker.network.windowsshim."
NETWORKNAME, INTERFACE, VLANID = SHIM + "networkname", SHIM + "interface", SHIM + "vlanid"
DNSSERVERS, DISABLE_GATEWAYDNS = SHIM + "dnsservers", SHIM + "disable_gatewaydns"
OUTBOUNDNAT, OUTBOUNDNAT_EXCEPTIONS = SHIM + "enable_outboundnat", SHIM + "outboundnat_exceptions"
EMULATES = "cnmlab.emulates"
CHAIN = "HNS-VSWITCH"
LAN_IF = "eth0"  # the host's one NIC on the lab's LAN
HYPER_V_OUI = "00:15:5d:"  # Microsoft's prefix for Hyper-V's virtual MACs

NOT_EMULATED = {
    DNSSERVERS: "lab containers resolve through Docker's embedded DNS at 127.0.0.11",
    DISABLE_GATEWAYDNS: "lab containers resolve through Docker's embedded DNS at 127.0.0.11, not the gateway",
    VLANID: "the lab's LAN carries no 802.1q VLANs",
}
WINDOWS_REFUSES = "Docker on Windows does not support {} on network create"


class VSwitchDriver(Driver):
    """A Windows driver: one vSwitch (bridge) per network, a veth per container."""

    capabilities = Capabilities(scope="local")
    prefix = ""  # the switch's name: PREFIX + the network id, within IFNAMSIZ
    options: tuple[str, ...] = (NETWORKNAME,)  # the windowsshim options this driver honours
    not_here: dict[str, str] = {}  # windowsshim options Windows takes, but not for this driver
    not_emulated: dict[str, str] = NOT_EMULATED  # options of this driver the lab cannot reproduce

    def device(self, network) -> str:
        return network.state.get("switch", "")

    # -- networks ---------------------------------------------------------------
    def validate(self, network) -> None:
        for key in network.options:
            if key in self.options:
                continue
            if key in self.not_here:
                raise InvalidParameter(f"option {key} does not apply to the {self.name} driver: {self.not_here[key]}")
            if key in self.not_emulated:
                raise InvalidParameter(f"option {key} is not emulated by the lab: {self.not_emulated[key]}")
            raise InvalidParameter(f"unknown option {key} for the {self.name} driver (Docker on Windows; "
                                   f"the lab takes: {', '.join(self.options)})")
        if network.internal:
            raise InvalidParameter(WINDOWS_REFUSES.format("--internal"))
        name = network.option(NETWORKNAME)
        if name:
            check_ifname(name, "network name (windowsshim.networkname)")
            if links.exists(self.ctx.ns.ipr(network.host), name):
                raise InvalidParameter(f"network name {name} is already in use on host {network.host}")
        network.labels[EMULATES] = "windows"

    def check_ipam(self, network) -> None:
        """Windows' limits on the addresses, once the controller has planned them (before anything is made)."""
        cfg = network.ipam[0] if network.ipam else None
        if cfg and cfg.ip_range:
            raise InvalidParameter(WINDOWS_REFUSES.format("--ip-range"))
        if cfg and cfg.aux_addresses:
            raise InvalidParameter(WINDOWS_REFUSES.format("--aux-address"))

    def switch_name(self, network) -> str:
        return network.option(NETWORKNAME) or (self.prefix + network.id)[:15]

    def create_network(self, network) -> None:
        self.check_ipam(network)
        ipr = self.ctx.ns.ipr(network.host)
        switch = self.switch_name(network)
        with contextlib.ExitStack() as undo:
            links.add_bridge(ipr, switch, mac=HYPER_V_OUI + secrets.token_bytes(3).hex(":"))
            undo.callback(links.delete, ipr, switch)
            network.state["switch"] = switch
            self.build_switch(network, switch)
            links.set_up(ipr, switch)
            iptables.restore(network.host, self.rules(network, switch, "-A"))
            self.ctx.step(network.host, f"created vSwitch {switch} ({self.name}, emulating Windows): "
                          + self.describe(network))
            undo.pop_all()

    def build_switch(self, network, switch: str) -> None:
        """Driver-specific parts of the switch (the gateway address, an uplink to the LAN)."""

    def describe(self, network) -> str:
        return ""

    def delete_network(self, network) -> None:
        switch = network.state.get("switch") or self.switch_name(network)
        with contextlib.suppress(iptables.IptablesError):
            iptables.restore(network.host, self.rules(network, switch, "-D"))
        self.unbuild_switch(network, switch)
        links.delete(self.ctx.ns.ipr(network.host), switch)
        self.ctx.step(network.host, f"removed vSwitch {switch} and its rules")

    def unbuild_switch(self, network, switch: str) -> None:
        pass

    # -- hosts ------------------------------------------------------------------
    def setup_host(self, host) -> None:
        have = iptables.save(host.netns)
        if f"-N {CHAIN}" not in have:
            iptables.restore(host.netns, {"filter": [f":{CHAIN} - [0:0]", f"-A FORWARD -j {CHAIN}"]})
            self.ctx.step(host.name, f"appended chain {CHAIN} to FORWARD (the Windows vSwitches' forwarding)")

    # -- rules ------------------------------------------------------------------
    def rules(self, network, switch: str, op: str) -> dict[str, list[str]]:
        """The network's rules: at least, frames the switch forwards between its own ports pass."""
        return {"filter": [f"{op} {CHAIN} -i {switch} -o {switch} -j ACCEPT"]}

    # -- endpoints --------------------------------------------------------------
    def create_endpoint(self, network, endpoint) -> None:
        name_veth_endpoint(endpoint)

    def join(self, network, endpoint, container) -> JoinInfo:
        host = self.ctx.ns.rtnl(network.host)
        switch = network.state["switch"]
        try:
            mac = plug_veth_endpoint(host, self.ctx.ns.rtnl(container.netns), endpoint, container.netns, switch)
        except links.KernelError as exc:
            if exc.code == errno.EXFULL:  # the vSwitch is a Linux bridge: the same port ceiling
                raise network_full(network) from None
            raise
        endpoint.mac = endpoint.mac or mac
        self.ctx.step(container.name, f"plugged vNIC {endpoint.ifname} of {container.name} into vSwitch {switch} "
                      f"(veth {endpoint.host_ifname}), address {endpoint.address or 'none'}")
        return JoinInfo(gateway=endpoint.gateway)

    def leave(self, network, endpoint, container, teardown: bool = False) -> None:
        if not teardown:
            links.delete(self.ctx.ns.ipr(network.host), endpoint.host_ifname)
            self.ctx.step(container.name, f"unplugged {container.name} from vSwitch {network.state.get('switch')}")
