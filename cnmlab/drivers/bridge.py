"""The native bridge driver: one Linux bridge per network on its host, one veth per endpoint.

Rules are those Docker 20.10 writes (docs/architecture.md lists where cnmlab differs):
isolation between bridges in DOCKER-ISOLATION-STAGE-1/2, masquerade for traffic leaving the
subnet, DNAT in the nat DOCKER chain for published ports. Each network's set is inserted above
older ones, so the newest network comes first in every chain and docker0 last.
"""

from __future__ import annotations

import contextlib
import errno
import secrets
import socket

from ..errors import Forbidden, InvalidParameter
from ..names import check_ifname, random_hex
from ..osl import iptables, links
from .base import Capabilities, Driver, JoinInfo

OPT = "com.docker.network.bridge."
NAME, ICC, MASQ = OPT + "name", OPT + "enable_icc", OPT + "enable_ip_masquerade"
HOST_BINDING, DEFAULT_BRIDGE = OPT + "host_binding_ipv4", OPT + "default_bridge"
MTU = "com.docker.network.driver.mtu"
BRIDGE_MAX_PORTS = 1023  # the kernel numbers ports 1..1023 (BR_MAX_PORTS, port 0 reserved); then EXFULL
FORWARD_AFTER_JUMPS = 3  # FORWARD starts with the DOCKER-USER and ISOLATION-STAGE-1 jumps

BASE_RULES = {
    "filter": [
        ":DOCKER - [0:0]",
        ":DOCKER-ISOLATION-STAGE-1 - [0:0]",
        ":DOCKER-ISOLATION-STAGE-2 - [0:0]",
        ":DOCKER-USER - [0:0]",
        ":FORWARD DROP [0:0]",
        "-A FORWARD -j DOCKER-USER",
        "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
        "-A DOCKER-ISOLATION-STAGE-1 -j RETURN",
        "-A DOCKER-ISOLATION-STAGE-2 -j RETURN",
        "-A DOCKER-USER -j RETURN",
    ],
    "nat": [
        ":DOCKER - [0:0]",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
    ],
}


def container_mac(ip: str) -> str:
    """Docker's rule: 02:42 followed by the four bytes of the IPv4 address."""
    return "02:42:" + socket.inet_pton(socket.AF_INET, ip).hex(":")  # strict, as IPv4Address; 10x cheaper


def name_veth_endpoint(endpoint) -> None:
    """Docker's names for a veth endpoint: the MAC from its address, `veth` + 7 hex on the host side."""
    if not endpoint.mac and endpoint.ip:
        endpoint.mac = container_mac(endpoint.ip)
    if not endpoint.host_ifname:
        endpoint.host_ifname = "veth" + random_hex(7)


NAME_TRIES = 3  # libnetwork's netutils.GenerateIfaceName draws a taken name again as often


def plug_veth_endpoint(host, box, endpoint, netns: str, master: str, mtu: int = 1500) -> str | None:
    """links.plug_veth for a veth endpoint; the sandbox side's MAC. Its host-side name is 28
    random bits, so about one build of a thousand containers in 500 draws a name a veth already
    has: the kernel refuses it (EEXIST) and it is drawn again, as Docker does. A taken name
    inside the sandbox (an `ethN` made there by hand) is the user's: said so in one line."""
    def plug() -> str | None:
        return links.plug_veth(host, box, endpoint.host_ifname, endpoint.ifname, netns, master=master, mtu=mtu,
                               peer_mac=endpoint.mac or None, address=endpoint.address or None)[1]

    for _ in range(NAME_TRIES - 1):
        try:
            return plug()
        except links.KernelError as exc:
            if exc.code != errno.EEXIST:
                raise
            try:
                host.link(endpoint.host_ifname)
            except LookupError:  # not the host side's: the sandbox already has an interface of that name
                raise links.name_taken(endpoint.ifname, netns) from None
            endpoint.host_ifname = "veth" + random_hex(7)
    return plug()


def flag(network, key: str, default: bool = True) -> bool:
    value = network.option(key)
    if value is None:
        return default
    return value.lower() in ("1", "true", "yes", "on")


class BridgeDriver(Driver):
    name = "bridge"
    capabilities = Capabilities(scope="local")
    option_keys = (NAME, ICC, MASQ, HOST_BINDING, DEFAULT_BRIDGE, MTU, OPT + "inhibit_ipv4")

    def device(self, network) -> str:
        return network.state.get("bridge", "")

    # -- hosts ------------------------------------------------------------------
    def setup_host(self, host) -> None:
        iptables.restore(host.netns, BASE_RULES)
        self.ctx.step(host.name, "wrote Docker's base chains: DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2")

    # -- networks ---------------------------------------------------------------
    def validate(self, network) -> None:
        for key in (ICC, MASQ):
            value = network.option(key)
            if value is not None and value.lower() not in ("true", "false", "1", "0"):
                raise InvalidParameter(f"invalid value for {key}: {value} (use true or false)")
        if network.option(NAME):
            check_ifname(network.option(NAME), "bridge name")
        mtu = network.option(MTU)
        if mtu is not None and (not mtu.isdigit() or not 68 <= int(mtu) <= 65535):
            raise InvalidParameter(f"invalid MTU {mtu}: use a number from 68 to 65535")
        self._ensure_unique_bridge(network)

    def bridge_name(self, network) -> str:
        return network.option(NAME) or ("docker0" if network.predefined else f"br-{network.short_id}")

    def create_network(self, network) -> None:
        ipr = self.ctx.ns.ipr(network.host)
        bridge = self.bridge_name(network)
        mtu = int(network.option(MTU, "1500"))
        with contextlib.ExitStack() as undo:
            links.add_bridge(ipr, bridge, mac="02:42:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(4)),
                             mtu=mtu)
            undo.callback(links.delete, ipr, bridge)
            for cfg in network.ipam:
                if cfg.gateway:
                    links.add_address(ipr, bridge, cfg.gateway, int(cfg.subnet.split("/")[1]))
            links.set_up(ipr, bridge)
            self.ctx.step(network.host, f"created bridge {bridge} with gateway {self._gateways(network)}")
            iptables.restore(network.host, self._network_rules(network, bridge, "-I"))
            self.ctx.step(network.host, f"inserted iptables rules for {bridge} (isolation, forwarding"
                          + (", internal" if network.internal else ", masquerade") + ")")
            network.state["bridge"] = bridge
            undo.pop_all()

    def delete_network(self, network) -> None:
        bridge = network.state.get("bridge") or self.bridge_name(network)
        with contextlib.suppress(iptables.IptablesError):
            iptables.restore(network.host, self._network_rules(network, bridge, "-D"))
        links.delete(self.ctx.ns.ipr(network.host), bridge)
        self.ctx.step(network.host, f"removed bridge {bridge} and its iptables rules")

    # -- endpoints --------------------------------------------------------------
    def create_endpoint(self, network, endpoint) -> None:
        name_veth_endpoint(endpoint)

    def join(self, network, endpoint, container) -> JoinInfo:
        # The hot path of every `run`: three netlink round trips and no lookups (links.plug_veth).
        host = self.ctx.ns.rtnl(network.host)
        bridge = network.state["bridge"]
        mtu = int(network.option(MTU, "1500"))
        try:
            mac = plug_veth_endpoint(host, self.ctx.ns.rtnl(container.netns), endpoint, container.netns, bridge, mtu)
        except links.KernelError as exc:
            if exc.code == errno.EXFULL:
                raise network_full(network) from None
            raise
        if not endpoint.mac:
            endpoint.mac = mac
        self.ctx.step(container.name, f"created veth {endpoint.host_ifname} on {bridge} <-> {endpoint.ifname} "
                      f"in {container.name}, address {endpoint.address or 'none'}")
        return JoinInfo(gateway=endpoint.gateway)

    def leave(self, network, endpoint, container, teardown: bool = False) -> None:
        if not teardown:
            links.delete(self.ctx.ns.ipr(network.host), endpoint.host_ifname)
            self.ctx.step(container.name, f"deleted veth {endpoint.host_ifname} ({endpoint.ifname} in {container.name})")

    # -- ports ------------------------------------------------------------------
    def publish(self, network, endpoint, container, ports) -> None:
        if ports and network.internal:
            raise InvalidParameter(f"cannot publish ports on internal network {network.name}")
        if ports:
            iptables.restore(network.host, self._port_rules(network, endpoint, ports, "-A"))
            self.ctx.step(network.host, "DNAT " + ", ".join(
                f"{p.host_port}/{p.proto} -> {endpoint.ip}:{p.container_port}" for p in ports))

    def unpublish(self, network, endpoint, container, ports) -> None:
        if ports:
            with contextlib.suppress(iptables.IptablesError):
                iptables.restore(network.host, self._port_rules(network, endpoint, ports, "-D"))

    # -- rules ------------------------------------------------------------------
    @staticmethod
    def _gateways(network) -> str:
        return ", ".join(f"{c.gateway}/{c.subnet.split('/')[1]}" for c in network.ipam if c.gateway) or "none"

    def _network_rules(self, network, br: str, op: str) -> dict[str, list[str]]:
        """Docker's rule set for one bridge; op '-I' inserts it above older networks, '-D' removes it."""
        subnet = network.ipam[0].subnet if network.ipam else None

        def at(chain: str, pos: int) -> str:
            return f"{op} {chain} {pos}" if op == "-I" else f"{op} {chain}"

        if network.internal:
            filter_rules = [f"{at('FORWARD', FORWARD_AFTER_JUMPS)} -i {br} -o {br} -j ACCEPT"]
            if subnet:
                filter_rules += [
                    f"{at('DOCKER-ISOLATION-STAGE-1', 1)} ! -s {subnet} -o {br} -j DROP",
                    f"{at('DOCKER-ISOLATION-STAGE-1', 2)} ! -d {subnet} -i {br} -j DROP",
                ]
            return {"filter": filter_rules}
        icc = "ACCEPT" if flag(network, ICC) else "DROP"
        pos = FORWARD_AFTER_JUMPS
        filter_rules = [
            f"{at('FORWARD', pos)} -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            f"{at('FORWARD', pos + 1)} -o {br} -j DOCKER",
            f"{at('FORWARD', pos + 2)} -i {br} ! -o {br} -j ACCEPT",
            f"{at('FORWARD', pos + 3)} -i {br} -o {br} -j {icc}",
            f"{at('DOCKER-ISOLATION-STAGE-1', 1)} -i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2",
            f"{at('DOCKER-ISOLATION-STAGE-2', 1)} -o {br} -j DROP",
        ]
        nat_rules = [f"{at('DOCKER', 1)} -i {br} -j RETURN"]
        if subnet and flag(network, MASQ):
            nat_rules.insert(0, f"{at('POSTROUTING', 1)} -s {subnet} ! -o {br} -j MASQUERADE")
        return {"filter": filter_rules, "nat": nat_rules}

    @staticmethod
    def _port_rules(network, endpoint, ports, op: str) -> dict[str, list[str]]:
        br, ip = network.state["bridge"], endpoint.ip
        filt, nat = [], []
        for p in ports:
            match = f"-p {p.proto} -m {p.proto} --dport"
            filt.append(f"{op} DOCKER -d {ip}/32 ! -i {br} -o {br} {match} {p.container_port} -j ACCEPT")
            nat.append(f"{op} POSTROUTING -s {ip}/32 -d {ip}/32 {match} {p.container_port} -j MASQUERADE")
            dest = f"-d {p.host_ip}/32 " if p.host_ip else ""
            nat.append(f"{op} DOCKER {dest}! -i {br} {match} {p.host_port} -j DNAT --to-destination {ip}:{p.container_port}")
        return {"filter": filt, "nat": nat}

    def _ensure_unique_bridge(self, network) -> None:
        wanted = self.bridge_name(network)
        if network.host and links.exists(self.ctx.ns.ipr(network.host), wanted):
            raise InvalidParameter(f"bridge name {wanted} is already in use on host {network.host}")


def network_full(network) -> Forbidden:
    """The kernel's EXFULL for one more bridge port, in words (Docker shows "exchange full")."""
    return Forbidden(f"network {network.name} is full: a Linux bridge takes at most {BRIDGE_MAX_PORTS} ports "
                     "(containers); put more containers on another network")
