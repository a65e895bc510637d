"""The overlay driver, as libnetwork builds it: one L2 network stretched over the underlay with VXLAN.

Per network and per host (made when the first container on that host joins, dropped after the
last one leaves) there is a namespace `1-<id10>@<host>` holding
  - br0     a bridge carrying the network's gateway address,
  - vxlan0  the VXLAN device: VNI of the network, UDP 4789, local = the host's underlay address,
            learning off, ARP proxy on; its socket lives in the host's namespace,
  - vethXXX one per container, whose peer is the container's ethN (MTU = underlay MTU - 50).
The engine plays libnetwork's gossip: when an endpoint joins on one host, every other host's
vxlan0 gets a static FDB entry (MAC -> that host's VTEP) and a neighbour entry (IP -> MAC);
when it leaves they are removed. No multicast, no flooding beyond those entries.
The default route out of an overlay comes from docker_gwbridge (see Sandbox.sync_default_gw):
overlay joins give no gateway, as in libnetwork.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from ..errors import Conflict, InvalidParameter
from ..osl import fdb, link_kinds, links, vxlan
from .base import Capabilities, Driver, JoinInfo
from .bridge import name_veth_endpoint, plug_veth_endpoint
from .overlay_events import FdbProgrammed, FdbRemoved

VXLANID_LIST = "com.docker.network.driver.overlay.vxlanid_list"
MTU = "com.docker.network.driver.mtu"
ENCRYPTED = "encrypted"
FIRST_VNI = 4096  # libnetwork's overlay allocates VNIs from 4096 upwards (4097 in practice)
MAX_VNI = (1 << 24) - 1
VXLAN_OVERHEAD = 50  # outer Ethernet 14 + IP 20 + UDP 8 + VXLAN 8
BRIDGE, VXLAN = "br0", "vxlan0"


def sandbox_name(network_id: str, host: str) -> str:
    """The namespace of one overlay network on one host ('@' cannot occur in container names)."""
    return f"1-{network_id[:10]}@{host}"


@dataclass(frozen=True)
class Peer:
    host: str
    vtep: str  # the host's underlay address
    ip: str
    mac: str


class OverlayDriver(Driver):
    name = "overlay"
    capabilities = Capabilities(scope="global", connectivity_scope="global")
    option_keys = (VXLANID_LIST, MTU, ENCRYPTED)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._vnis: dict[str, int] = {}  # network id -> VNI
        self._peers: dict[str, dict[str, Peer]] = {}  # network id -> endpoint id -> peer
        self._sandboxes: dict[str, set[str]] = {}  # network id -> hosts with a sandbox

    def reset(self) -> None:
        """The lab was wiped (every namespace dropped): forget what we had built."""
        for net_id, hosts in self._sandboxes.items():
            for host in hosts:
                self.ctx.ns.delete(sandbox_name(net_id, host))
        self._vnis.clear()
        self._peers.clear()
        self._sandboxes.clear()

    def namespaces(self, network) -> list[str]:
        return [sandbox_name(network.id, h.name) for h in self.ctx.hosts()]

    # -- networks ---------------------------------------------------------------
    def validate(self, network) -> None:
        if ENCRYPTED in network.options:
            raise InvalidParameter("encrypted overlay networks are not supported in the lab (needs IPsec, "
                                   "which the lab does not model): drop --opt encrypted")
        mtu = network.option(MTU)
        if mtu is not None and (not mtu.isdigit() or not 68 <= int(mtu) <= 65535):
            raise InvalidParameter(f"invalid MTU {mtu}: use a number from 68 to 65535")
        self._choose_vni(network)
        link_kinds.require(self.ctx.ns, "vxlan", "an overlay network")

    def _choose_vni(self, network) -> int:
        taken = {v for k, v in self._vnis.items() if k != network.id}
        wanted = network.option(VXLANID_LIST)
        if wanted is not None:
            if not wanted.isdigit() or not 1 <= int(wanted) <= MAX_VNI:
                raise InvalidParameter(f"invalid {VXLANID_LIST} {wanted}: one VNI from 1 to {MAX_VNI}")
            if int(wanted) in taken:
                raise Conflict(f"VNI {wanted} is already used by another overlay network")
            return int(wanted)
        vni = FIRST_VNI
        while vni in taken:
            vni += 1
        return vni

    def create_network(self, network) -> None:
        vni = self._choose_vni(network)
        self._vnis[network.id] = vni
        self._peers[network.id] = {}
        self._sandboxes[network.id] = set()
        network.options[VXLANID_LIST] = str(vni)  # Docker shows the VNI in the network's Options
        network.state["vni"] = vni
        self.ctx.step(network.name, f"allocated VNI {vni}; each host builds its part when a container joins there")

    def delete_network(self, network) -> None:
        for host in sorted(self._sandboxes.get(network.id, ())):
            self._drop_sandbox(network, host)
        self._vnis.pop(network.id, None)
        self._peers.pop(network.id, None)
        self._sandboxes.pop(network.id, None)

    # -- the per-host sandbox ------------------------------------------------------
    def mtu(self, network, host) -> int:
        return int(network.option(MTU) or self.ctx.host(host).mtu - VXLAN_OVERHEAD)

    def _ensure_sandbox(self, network, host_name: str) -> str:
        name = sandbox_name(network.id, host_name)
        if host_name in self._sandboxes[network.id]:
            return name
        host = self.ctx.host(host_name)
        vni, mtu = self._vnis[network.id], self.mtu(network, host_name)
        with contextlib.ExitStack() as undo:
            ipr = self.ctx.ns.create(name)
            undo.callback(self.ctx.ns.delete, name)
            links.add_bridge(ipr, BRIDGE, mtu=mtu)
            for cfg in network.ipam:
                if cfg.gateway:
                    links.add_address(ipr, BRIDGE, cfg.gateway, int(cfg.subnet.split("/")[1]))
            links.set_up(ipr, BRIDGE)
            vxlan.add_vxlan(self.ctx.ns.ipr(host.netns), VXLAN, name, vni, host.address, mtu)
            links.set_master(ipr, VXLAN, BRIDGE)
            links.set_up(ipr, VXLAN)
            self.ctx.step(host_name, f"overlay {network.name}: namespace {name} with {BRIDGE} "
                          f"({network.ipam[0].gateway if network.ipam else 'no gateway'}) and {VXLAN} "
                          f"(VNI {vni}, UDP {vxlan.VXLAN_PORT}, local {host.address}, learning off)")
            self._sandboxes[network.id].add(host_name)
            undo.callback(self._sandboxes[network.id].discard, host_name)
            for peer in self._peers[network.id].values():
                if peer.host != host_name:
                    self._program(network, host_name, peer)
            undo.pop_all()
        return name

    def _drop_sandbox(self, network, host_name: str) -> None:
        self.ctx.ns.delete(sandbox_name(network.id, host_name))  # the kernel removes br0, vxlan0, veths
        self._sandboxes[network.id].discard(host_name)
        self.ctx.step(host_name, f"overlay {network.name}: last container left, removed {sandbox_name(network.id, host_name)}")

    # -- control plane ----------------------------------------------------------
    def _program(self, network, host_name: str, peer: Peer) -> None:
        ipr = self.ctx.ns.ipr(sandbox_name(network.id, host_name))
        fdb.add_peer(ipr, VXLAN, peer.mac, peer.ip, peer.vtep)
        self.ctx.emit(FdbProgrammed(host=host_name, network=network.name, mac=peer.mac, ip=peer.ip, vtep=peer.vtep))

    def _unprogram(self, network, host_name: str, peer: Peer) -> None:
        ipr = self.ctx.ns.ipr(sandbox_name(network.id, host_name))
        fdb.remove_peer(ipr, VXLAN, peer.mac, peer.ip, peer.vtep)
        self.ctx.emit(FdbRemoved(host=host_name, network=network.name, mac=peer.mac, ip=peer.ip, vtep=peer.vtep))

    def peers(self, network_id: str) -> list[Peer]:
        return list(self._peers.get(network_id, {}).values())

    def control_plane(self, network_id: str, host_name: str) -> dict:
        """The static entries on one host's vxlan0, as the kernel holds them."""
        held = fdb.entries(self.ctx.ns.ipr(sandbox_name(network_id, host_name)), VXLAN)
        return {"FDB": [{"MAC": mac, "VTEP": vtep} for mac, vtep in held["fdb"]],
                "Neighbours": [{"IP": ip, "MAC": mac} for ip, mac in held["neigh"]]}

    def hosts_of(self, network_id: str) -> list[str]:
        return sorted(self._sandboxes.get(network_id, ()))

    # -- endpoints --------------------------------------------------------------
    def create_endpoint(self, network, endpoint) -> None:
        name_veth_endpoint(endpoint)

    def join(self, network, endpoint, container) -> JoinInfo:
        host = self.ctx.host(container.host)
        fresh = container.host not in self._sandboxes[network.id]
        sandbox = self._ensure_sandbox(network, container.host)
        mtu = self.mtu(network, container.host)
        with contextlib.ExitStack() as undo:
            if fresh:
                undo.callback(self._drop_sandbox, network, container.host)
            # the hot path, as the bridge driver's: veth up on br0, peer born in the sandbox with MAC + address
            sb = self.ctx.ns.rtnl(sandbox)
            mac = plug_veth_endpoint(sb, self.ctx.ns.rtnl(container.netns), endpoint, container.netns, BRIDGE, mtu)
            undo.callback(links.delete, self.ctx.ns.ipr(sandbox), endpoint.host_ifname)
            endpoint.mac = endpoint.mac or mac
            ip = endpoint.ip
            self.ctx.step(container.name, f"created veth {endpoint.host_ifname} on {BRIDGE} in {sandbox} <-> "
                          f"{endpoint.ifname} in {container.name}, address {endpoint.address}, MTU {mtu}")
            peer = Peer(host=host.name, vtep=host.address, ip=ip, mac=endpoint.mac)
            others = [h for h in self.hosts_of(network.id) if h != host.name]
            for other in others:
                self._program(network, other, peer)
                undo.callback(self._unprogram, network, other, peer)
            self._peers[network.id][endpoint.id] = peer
            undo.pop_all()
        # No gateway: as in libnetwork, the sandbox then gets docker_gwbridge for its way out.
        return JoinInfo(gateway=None)

    def leave(self, network, endpoint, container, teardown: bool = False) -> None:
        peer = self._peers.get(network.id, {}).pop(endpoint.id, None)
        if peer is None:
            return
        for other in self.hosts_of(network.id):
            if other != peer.host:
                self._unprogram(network, other, peer)
        if not any(p.host == peer.host for p in self._peers[network.id].values()):
            self._drop_sandbox(network, peer.host)
        elif not teardown:
            links.delete(self.ctx.ns.ipr(sandbox_name(network.id, peer.host)), endpoint.host_ifname)


    def inspect_network(self, network, data: dict, verbose: bool) -> None:
        """`docker network inspect` of an overlay lists its Peers: the hosts where it is built."""
        lab = {h.name: h for h in self.ctx.hosts()}
        hosts = [h for h in self.hosts_of(network.id) if h in lab]
        data["Peers"] = [{"Name": h, "IP": lab[h].address} for h in hosts]
        if verbose:  # cnmlab: what the control plane wrote, read back from each host's vxlan0
            data["ControlPlane"] = {h: self.control_plane(network.id, h) for h in hosts}
