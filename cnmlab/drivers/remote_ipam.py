"""Remote IPAM: Docker's IPAM plugin protocol (libnetwork docs/ipam.md), `--ipam-driver NAME`.

The controller plans a network's pool and hands out endpoint addresses through an object with
the shape of `cnmlab.ipam`'s: `plan(...) -> pool`, and a pool's `allocate / claim / release`
(plus `close`, which gives the pool back). Here each of those is a call to the plugin:

    network create   RequestPool, RequestAddress (gateway), RequestAddress (each aux address)
    endpoint join    RequestAddress          endpoint leave   ReleaseAddress
    network rm       ReleaseAddress (gateway, aux), ReleasePool

A failure is the plugin's {"Error": "..."}, shown as it is; what was already requested is
released again. Pools still live in the lab's one address space: a pool the plugin picks that
overlaps another network is given back and refused, as the routes in a host could not tell them apart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, ip_interface

from ..errors import CnmError, InvalidParameter, NotFound
from ..events import StepDone
from ..ipam import Ipam, parse_address, parse_subnet
from ..plugins import PluginClient, PluginError, PluginNotImplemented, activate, discover, find

IMPLEMENTS = "IpamDriver"
GATEWAY_REQUEST = {"RequestAddressType": "com.docker.network.gateway"}


@dataclass
class RemotePool:
    """One pool the plugin gave; its methods are the ones the controller calls on a local Pool."""

    client: PluginClient
    pool_id: str
    subnet: IPv4Network
    ip_range: IPv4Network
    gateway: IPv4Address | None
    emit: Callable = field(repr=False, default=lambda event: None)
    held: list[IPv4Address] = field(default_factory=list)  # gateway and aux addresses, released on close

    def request(self, address: IPv4Address | None = None, options: dict | None = None) -> IPv4Address:
        reply = self.client.call(f"{IMPLEMENTS}.RequestAddress", {
            "PoolID": self.pool_id, "Address": str(address) if address else "", "Options": options or {}})
        text = reply.get("Address")
        if not isinstance(text, str) or not text:
            raise PluginError(f"IPAM plugin {self.client.name}'s RequestAddress reply is missing Address")
        try:
            got = ip_interface(text).ip
        except ValueError:
            raise PluginError(f"IPAM plugin {self.client.name} gave an invalid Address {text!r}") from None
        if got not in self.subnet or (address is not None and got != address):
            self.release(got)
            raise PluginError(f"IPAM plugin {self.client.name} gave {got}, which is not "
                              f"{address or 'an address of ' + str(self.subnet)}")
        return got

    def allocate(self, label: str) -> IPv4Address:
        return self.request()

    def claim(self, addr: IPv4Address) -> None:
        if addr not in self.subnet:
            raise InvalidParameter(f"Invalid address {addr}: It does not belong to any of this network's subnets")
        self.request(addr)

    def release(self, addr: IPv4Address) -> None:
        """Never raises: a leave or a rollback must finish even when the plugin is gone."""
        try:
            self.client.call(f"{IMPLEMENTS}.ReleaseAddress", {"PoolID": self.pool_id, "Address": str(addr)})
        except CnmError as exc:
            self.emit(StepDone(where="lab", step=f"IPAM plugin {self.client.name}: ReleaseAddress {addr} "
                                                 f"failed ({exc.message})"))

    def close(self) -> None:
        for addr in reversed(self.held):
            self.release(addr)
        self.held.clear()
        try:
            self.client.call(f"{IMPLEMENTS}.ReleasePool", {"PoolID": self.pool_id})
        except CnmError as exc:
            self.emit(StepDone(where="lab", step=f"IPAM plugin {self.client.name}: ReleasePool failed ({exc.message})"))


class RemoteIpam:
    def __init__(self, client: PluginClient, address_space: str, lab: Callable[[], Ipam], emit: Callable):
        self.client = client
        self.address_space = address_space
        self.lab = lab  # the controller's current address space (a reset makes a new one)
        self.emit = emit

    @classmethod
    def activate(cls, name: str, lab: Callable[[], Ipam], emit: Callable) -> RemoteIpam:
        plugin = find(name)
        if plugin is None:
            remote = ", ".join(sorted(discover())) or "none"
            raise NotFound(f'plugin "{name}" not found (IPAM drivers: default, null; remote plugins: {remote})')
        client, _ = activate(plugin, IMPLEMENTS)
        client.error_key = "Error"
        with contextlib.suppress(PluginNotImplemented):  # optional, says libnetwork
            client.call(f"{IMPLEMENTS}.GetCapabilities")
        spaces = client.call(f"{IMPLEMENTS}.GetDefaultAddressSpaces")
        local = spaces.get("LocalDefaultAddressSpace")
        if not isinstance(local, str) or not local:
            raise PluginError(f"IPAM plugin {name}'s GetDefaultAddressSpaces reply is missing LocalDefaultAddressSpace")
        return cls(client, local, lab, emit)

    def plan(self, subnet: str | None, gateway: str | None, ip_range: str | None,
             aux: dict[str, str] | None, **_) -> RemotePool:
        """RequestPool, then the gateway and aux addresses; on any failure give back what was got."""
        if ip_range and not subnet:
            raise InvalidParameter("an ip-range needs a subnet")
        reply = self.client.call(f"{IMPLEMENTS}.RequestPool", {
            "AddressSpace": self.address_space, "Pool": subnet or "", "SubPool": ip_range or "",
            "Options": {}, "V6": False})
        pool_id, text = reply.get("PoolID"), reply.get("Pool")
        if not isinstance(pool_id, str) or not pool_id or not isinstance(text, str) or not text:
            if isinstance(pool_id, str) and pool_id:
                self._release_pool(pool_id)
            raise PluginError(f"IPAM plugin {self.client.name}'s RequestPool reply is missing "
                              f"{'PoolID' if not pool_id else 'Pool'}")
        pool = None
        try:
            net = parse_subnet(text)
            pool = RemotePool(self.client, pool_id, net, parse_subnet(ip_range) if ip_range else net, None, self.emit)
            self.lab()._check_free(net, [])
            gw = parse_address(gateway, "gateway") if gateway else None
            pool.gateway = pool.request(gw, GATEWAY_REQUEST)
            pool.held.append(pool.gateway)
            for key, value in (aux or {}).items():
                pool.held.append(pool.request(parse_address(value, f"aux-address {key}")))
        except BaseException:
            if pool is not None:
                pool.close()
            else:
                self._release_pool(pool_id)
            raise
        return pool

    def _release_pool(self, pool_id: str) -> None:
        with contextlib.suppress(CnmError):
            self.client.call(f"{IMPLEMENTS}.ReleasePool", {"PoolID": pool_id})
