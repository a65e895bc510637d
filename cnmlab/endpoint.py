"""A CNM endpoint: one interface joining one sandbox to one network, and its join and leave.

As libnetwork's endpoint.go `sbJoin` does, a join takes the endpoint's address, has the driver
make and join it, then asks the sandbox to update its gateway (the default route, docker_gwbridge,
the published ports) and lets the features know. Each step is undone in reverse when a later one
fails, so a refused join leaves no address, interface or record behind. Leave is the same in reverse.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import Conflict, Forbidden, InvalidParameter
from .events import EndpointJoined, EndpointLeft
from .ipam import parse_address
from .names import check_mac, new_id
from .network import GW_NETWORK

if TYPE_CHECKING:
    from .ipam import Pool
    from .network import Network
    from .sandbox import Sandbox


@dataclass
class Endpoint:
    id: str
    network_id: str
    container_id: str
    ifname: str = ""  # inside the sandbox: eth0, eth1, ... in join order
    host_ifname: str = ""  # the other end, e.g. veth3f2a9c1 on the bridge
    mac: str = ""
    address: str = ""  # CIDR, e.g. 172.18.0.2/16; empty when the driver gives none
    gateway: str | None = None
    aliases: list[str] = field(default_factory=list)
    requested_ip: str | None = None  # --ip, kept to show IPAMConfig as Docker does
    from_connect: bool = False
    state: dict = field(default_factory=dict)

    @property
    def ip(self) -> str:
        return self.address.split("/")[0] if self.address else ""

    def assign_address(self, net: Network, pool: Pool, ip: str | None) -> None:
        """`--ip` (user networks with a user subnet only, as Docker) or the pool's lowest free one."""
        cfg = net.ipam[0]
        if ip:
            if net.predefined:
                raise InvalidParameter("user specified IP address is supported on user defined networks only")
            if not cfg.user_subnet:
                raise InvalidParameter("user specified IP address is supported only when connecting to networks "
                                       "with user configured subnets")
            addr = parse_address(ip)
            pool.claim(addr)
        else:
            addr = pool.allocate(f"{net.name} ({net.short_id})")
        self.address = f"{addr}/{pool.subnet.prefixlen}"
        self.gateway = cfg.gateway

    def leave(self, sb: Sandbox, net: Network, teardown: bool, namespace_stays: bool = False) -> None:
        """libnetwork's sbLeave + Delete. `teardown`: the whole sandbox goes, so the gateway, the
        docker_gwbridge endpoint and the ports need no update; `namespace_stays`: but its
        namespace lives on (container:NAME containers hold it), so the driver removes the link."""
        ctl, c = sb.ctl, sb.container
        drv = ctl.driver(net.driver)
        sb.revoke_ports_if_on(self)
        ctl.hooks.run(ctl.hooks.left, net, self, c, teardown)
        drv.leave(net, self, c, teardown=teardown and not namespace_stays)
        drv.delete_endpoint(net, self)
        if self.ip and net.id in ctl.ipam.pools:
            ctl.ipam.pool(net.id).release(parse_address(self.ip))
        sb.forget(self)
        ctl.store.delete(self)
        if not teardown:
            sb.update_gateway()
            if net.name != GW_NETWORK:
                sb.sync_default_gw()
            sb.place_ports(moving=True)  # the ports follow the gateway endpoint
        ctl.emit(EndpointLeft(container=c.name, network=net.name, interface=self.ifname))

    def rejoin(self, sb: Sandbox, net: Network) -> None:
        """When the engine starts again: the same address and interface as before (restore)."""
        ctl = sb.ctl
        drv = ctl.driver(net.driver)
        if self.ip and net.id in ctl.ipam.pools:
            ctl.ipam.pool(net.id).used.add(int(parse_address(self.ip)))
        drv.create_endpoint(net, self)
        drv.join(net, self, sb.container)
        sb.add(self)
        ctl.hooks.run(ctl.hooks.joined, net, self, sb.container)


def join(sb: Sandbox, net: Network, ip: str | None = None, aliases: list[str] | None = None,
         from_connect: bool = False, mac: str | None = None) -> Endpoint:
    """libnetwork's CreateEndpoint + sbJoin: a new endpoint of `net` in the sandbox `sb`."""
    ctl, c = sb.ctl, sb.container
    aliases = list(aliases or [])
    drv = ctl.driver(net.driver)
    if from_connect and (drv.capabilities.network_mode or c.network_mode in ("host", "none")):
        raise Forbidden(f"container cannot be connected to network {net.name}: it is in {c.network_mode} "
                        "network mode, which cannot be combined with other networks")
    if aliases and net.predefined:  # Docker's runconfig.ErrUnsupportedNetworkAndAlias
        raise InvalidParameter("network-scoped alias is supported only for containers in user defined networks")
    if sb.endpoint_on(net) is not None:
        raise Conflict(f"endpoint with name {c.name} already exists in network {net.name}")
    if net.host is not None and net.host != c.host:
        raise InvalidParameter(f"network {net.name} is local to host {net.host}; container {c.name} is on {c.host}")
    ep = Endpoint(id=new_id(), network_id=net.id, container_id=c.id, aliases=aliases,
                  requested_ip=ip, from_connect=from_connect, mac=check_mac(mac) if mac else "")
    with contextlib.ExitStack() as undo:
        if drv.capabilities.needs_ipam and net.id in ctl.ipam.pools:  # not with --ipam-driver null
            pool = ctl.ipam.pool(net.id)
            ep.assign_address(net, pool, ip)
            undo.callback(pool.release, parse_address(ep.ip))
        if not drv.capabilities.network_mode:  # host and none make no interface
            saved = c.next_if
            ep.ifname = c.take_ifname()
            undo.callback(setattr, c, "next_if", saved)
        drv.create_endpoint(net, ep)
        undo.callback(drv.delete_endpoint, net, ep)
        info = drv.join(net, ep, c)
        undo.callback(drv.leave, net, ep, c)
        if info.gateway is None:
            ep.gateway = None
        if info.disable_gateway_service:  # libnetwork: then no docker_gwbridge for this endpoint
            ep.state["disable_gateway_service"] = True
        undo.callback(sb.update_gateway)  # runs once the endpoint is forgotten again
        sb.add(ep)
        undo.callback(sb.forget, ep)
        sb.update_gateway()
        ctl.hooks.run(ctl.hooks.joined, net, ep, c)
        undo.callback(ctl.hooks.run, ctl.hooks.left, net, ep, c, False)
        if net.name != GW_NETWORK:
            sb.sync_default_gw(from_connect=from_connect)
            undo.callback(sb.sync_default_gw, ep)
        if from_connect:  # a new gateway endpoint takes the published ports
            sb.place_ports(moving=True)
        ctl.store.put(ep)
        if from_connect:
            ctl.store.put(c)
        undo.pop_all()
    ctl.emit(EndpointJoined(container=c.name, network=net.name, interface=ep.ifname, address=ep.address))
    return ep
