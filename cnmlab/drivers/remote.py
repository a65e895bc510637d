"""The remote driver: Docker's network plugin protocol, spoken to a plugin process in the lab.

libnetwork's built-in `remote` driver turns every driver call into an HTTP POST to the plugin
(`/NetworkDriver.<Call>`, JSON in and out). The plugin runs in a Docker host's namespace and
makes its interfaces there; on Join this driver moves the one the plugin names (`SrcName`) into
the sandbox, renames it DstPrefix + index (eth0, eth1 ...), gives it the endpoint's address and
applies the plugin's Gateway and StaticRoutes.

Failures: a reply {"Err": "..."} is shown as the plugin wrote it, and the steps already done are
undone (on the plugin too: Leave after a failed Join, DeleteEndpoint after a failed
CreateEndpoint, via the controller's rollback). Optional calls that answer 404 (DiscoverNew,
ProgramExternalConnectivity ...) count as "not implemented". Calls that tear down (Leave,
DeleteEndpoint, DeleteNetwork) never raise: the lab drops its side even when the plugin is gone,
and says so in a step event.
"""

from __future__ import annotations

import contextlib
import re
from ipaddress import ip_address, ip_interface
from typing import ClassVar

from ..errors import CnmError, InvalidParameter
from ..names import check_ifname
from ..osl import links, wiring
from ..osl.netns import path as netns_path
from ..plugins import Plugin, PluginClient, PluginError, PluginNotImplemented, activate
from .base import Capabilities, Driver, JoinInfo

IMPLEMENTS = "NetworkDriver"
GENERIC = "com.docker.network.generic"
NODE_DISCOVERY = 1
ROUTE_NEXTHOP, ROUTE_CONNECTED = 0, 1


def driver_class(plugin: Plugin) -> type[RemoteDriver]:
    """Activate the plugin, ask its capabilities, and make a driver class named after it."""
    client, _ = activate(plugin, IMPLEMENTS)
    reply = client.call(f"{IMPLEMENTS}.GetCapabilities")
    scope = reply.get("Scope")
    if scope not in ("local", "global"):
        raise PluginError(f"plugin {plugin.name}: invalid capability: expecting 'local' or 'global', got {scope!r}")
    connectivity = reply.get("ConnectivityScope") or scope
    if connectivity not in ("local", "global"):
        raise PluginError(f"plugin {plugin.name}: invalid ConnectivityScope {connectivity!r}")
    return type(f"Remote[{plugin.name}]", (RemoteDriver,), {
        "name": plugin.name, "client": client,
        "capabilities": Capabilities(scope=scope, connectivity_scope=connectivity)})


class RemoteDriver(Driver):
    """A network driver whose every call goes to a plugin process (subclassed per plugin)."""

    client: ClassVar[PluginClient]

    def _call(self, call: str, body: dict | None = None, *about) -> dict:
        """One call; `about` are the lab objects it concerns (other work on them waits for it)."""
        return self.client.call(f"{IMPLEMENTS}.{call}", body, _names(*about))

    def _quietly(self, where: str, call: str, body: dict, *about) -> None:
        """A teardown call: the lab drops its side whatever the plugin answers."""
        try:
            self._call(call, body, *about)
        except PluginNotImplemented:
            pass
        except CnmError as exc:
            self.ctx.step(where, f"plugin {self.name}: {call} failed ({exc.message}); removed from the lab anyway")

    # -- hosts ------------------------------------------------------------------
    def setup_host(self, host) -> None:
        try:  # node discovery, as libnetwork sends it to every driver
            self._call("DiscoverNew", {"DiscoveryType": NODE_DISCOVERY,
                                       "DiscoveryData": {"Address": host.address, "self": True}})
        except PluginNotImplemented:
            pass
        except CnmError as exc:
            self.ctx.step(host.name, f"plugin {self.name}: DiscoverNew failed ({exc.message})")

    # -- networks ---------------------------------------------------------------
    def create_network(self, network) -> None:
        options: dict = {"com.docker.network.enable_ipv6": network.enable_ipv6, GENERIC: dict(network.options)}
        if network.internal:
            options["com.docker.network.internal"] = True
        self._call("CreateNetwork", {"NetworkID": network.id, "Options": options,
                                     "IPv4Data": self.ipv4_data(network), "IPv6Data": []}, network)
        network.state["plugin"] = self.name
        self.ctx.step(network.host or "lab", f"plugin {self.name} created network {network.name}")

    def delete_network(self, network) -> None:
        self._quietly(network.host or "lab", "DeleteNetwork", {"NetworkID": network.id}, network)

    def ipv4_data(self, network) -> list[dict]:
        """libnetwork's IPAMData: pool, gateway and aux addresses in CIDR form."""
        if network.ipam_driver == "null":  # libnetwork's null IPAM: no addresses, a 0.0.0.0/0 pool
            return [{"AddressSpace": "null", "Pool": "0.0.0.0/0"}]
        space = "GlobalDefault" if self.capabilities.scope == "global" else "LocalDefault"
        out = []
        for cfg in network.ipam:
            prefix = cfg.subnet.split("/")[1]
            data: dict = {"AddressSpace": space, "Pool": cfg.subnet}
            if cfg.gateway:
                data["Gateway"] = f"{cfg.gateway}/{prefix}"
            if cfg.aux_addresses:
                data["AuxAddresses"] = {k: f"{v}/{prefix}" for k, v in cfg.aux_addresses.items()}
            out.append(data)
        return out

    # -- endpoints --------------------------------------------------------------
    def create_endpoint(self, network, endpoint) -> None:
        given = {"Address": endpoint.address, "AddressIPv6": "", "MacAddress": endpoint.mac}
        reply = self._call("CreateEndpoint", {"NetworkID": network.id, "EndpointID": endpoint.id,
                                              "Interface": given, "Options": {}}, network, endpoint)
        try:
            self._take_interface(endpoint, reply.get("Interface"))
        except CnmError as exc:
            self._quietly(network.host or "lab", "DeleteEndpoint",
                          {"NetworkID": network.id, "EndpointID": endpoint.id}, network, endpoint)
            raise type(exc)(f"{exc.message}; rolled back") from None

    def _take_interface(self, endpoint, answer) -> None:
        """The Interface rules: a field cnmlab supplied must come back empty; one it did not
        supply (no IPAM address, no MAC) the plugin may fill, and the address it must."""
        if answer is None:
            answer = {}
        if not isinstance(answer, dict):
            raise PluginError(f"plugin {self.name}: CreateEndpoint reply has an Interface that is not an object")
        address, mac = answer.get("Address") or "", answer.get("MacAddress") or ""
        if address and endpoint.address:
            raise PluginError(f"plugin {self.name} changed the interface address cnmlab supplied "
                              f"({endpoint.address} -> {address}): it must answer an empty Interface")
        if mac and endpoint.mac:
            raise PluginError(f"plugin {self.name} changed the MAC address cnmlab supplied ({endpoint.mac})")
        if address:
            try:
                iface = ip_interface(address)
            except ValueError:
                raise PluginError(f"plugin {self.name} supplied an invalid Interface.Address {address!r}") from None
            endpoint.address = f"{iface.ip}/{iface.network.prefixlen}"
        elif not endpoint.address:
            raise PluginError(f"plugin {self.name}'s CreateEndpoint reply is missing Interface.Address "
                              "(the network's IPAM gave none, so the plugin must supply it)")
        if mac:
            if not re.fullmatch(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", mac):
                raise PluginError(f"plugin {self.name} supplied an invalid Interface.MacAddress {mac!r}")
            endpoint.mac = mac.lower()

    def delete_endpoint(self, network, endpoint) -> None:
        self._quietly(network.host or "lab", "DeleteEndpoint", {"NetworkID": network.id, "EndpointID": endpoint.id},
                      network, endpoint)

    def endpoint_oper_info(self, network, endpoint) -> dict:
        """EndpointOperInfo: what the plugin reports about a live endpoint ({} if it will not say)."""
        try:
            value = self._call("EndpointOperInfo", {"NetworkID": network.id, "EndpointID": endpoint.id},
                               network, endpoint).get("Value")
        except CnmError:
            return {}
        return value if isinstance(value, dict) else {}

    # -- join and leave ---------------------------------------------------------
    def join(self, network, endpoint, container) -> JoinInfo:
        ids = {"NetworkID": network.id, "EndpointID": endpoint.id}
        reply = self._call("Join", {**ids, "SandboxKey": netns_path(container.netns), "Options": {}},
                           network, container)
        with contextlib.ExitStack() as undo:
            undo.callback(self._quietly, container.name, "Leave", ids, network, container)
            try:
                src, dst, gateway, routes = self._parse_join(reply, endpoint)
                self._plumb(container, endpoint, src, dst, routes)
            except (CnmError, links.KernelError, LookupError) as exc:
                message = exc.message if isinstance(exc, CnmError) else f"{type(exc).__name__}: {exc}"
                raise PluginError(f"{message}; rolled back") from None
            undo.pop_all()
        endpoint.state["src_name"] = src
        endpoint.ifname = dst
        endpoint.gateway = gateway
        endpoint.state["oper_info"] = self.endpoint_oper_info(network, endpoint)
        self.ctx.step(container.name, f"plugin {self.name} made {src}; moved it into {container.name} as {dst}, "
                      f"address {endpoint.address or 'none'}" + (f", gateway {gateway}" if gateway else ""))
        return JoinInfo(gateway=gateway, static_routes=routes,
                        disable_gateway_service=bool(reply.get("DisableGatewayService")))

    def _parse_join(self, reply: dict, endpoint) -> tuple[str, str, str | None, list[dict]]:
        names = reply.get("InterfaceName")
        src = names.get("SrcName") if isinstance(names, dict) else None
        if not src or not isinstance(src, str):
            raise PluginError(f"plugin {self.name}'s Join reply is missing InterfaceName.SrcName")
        prefix = names.get("DstPrefix") or "eth"
        index = re.sub(r"^\D*", "", endpoint.ifname) or "0"
        dst = f"{prefix}{index}"
        try:
            check_ifname(dst, "interface name")
        except InvalidParameter as exc:
            raise PluginError(f"plugin {self.name}: DstPrefix {prefix!r} gives a bad name: {exc.message}") from None
        gateway = reply.get("Gateway") or None
        if gateway is not None:
            try:
                gateway = str(ip_address(gateway))
            except ValueError:
                raise PluginError(f"plugin {self.name}: unable to parse Gateway {gateway!r}") from None
        routes = []
        for route in reply.get("StaticRoutes") or []:
            try:
                dest = str(ip_interface(route["Destination"]).network)
                kind = int(route.get("RouteType", ROUTE_NEXTHOP))
                hop = str(ip_address(route["NextHop"])) if route.get("NextHop") else None
            except (KeyError, TypeError, ValueError):
                raise PluginError(f"plugin {self.name}: bad StaticRoutes entry {route!r}") from None
            if kind == ROUTE_NEXTHOP and not hop:
                raise PluginError(f"plugin {self.name}: static route to {dest} has RouteType 0 but no NextHop")
            routes.append({"Destination": dest, "RouteType": kind, "NextHop": hop})
        return src, dst, gateway, routes

    def _plumb(self, container, endpoint, src: str, dst: str, routes: list[dict]) -> None:
        """libnetwork's sandbox steps: move SrcName in, rename, MAC, address, up, routes."""
        host_ipr = self.ctx.ns.ipr(self.ctx.host(container.host).netns)
        if not links.exists(host_ipr, src):
            raise PluginError(f"plugin {self.name} named interface {src} in its Join reply, "
                              f"but host {container.host} has no such link")
        wiring.move(host_ipr, src, container.netns, dst)
        box = self.ctx.ns.ipr(container.netns)
        try:
            links.set_up(box, dst, mac=endpoint.mac or None)
            if not endpoint.mac:
                endpoint.mac = links.mac_of(box, dst)
            if endpoint.address:
                ip, prefix = endpoint.address.split("/")
                links.add_address(box, dst, ip, int(prefix))
            for route in routes:
                wiring.add_route(box, route["Destination"], route["NextHop"] if route["RouteType"] == ROUTE_NEXTHOP
                                 else None, dst)
        except BaseException:
            self._give_back(container, dst, src)
            raise

    def _give_back(self, container, dst: str, src: str) -> None:
        """Move the plugin's interface back to the host under its own name (libnetwork does this
        on Leave), so the plugin finds what it made; if that fails, delete it."""
        box = self.ctx.ns.ipr(container.netns)
        try:
            links.set_down(box, dst)
            wiring.move(box, dst, self.ctx.host(container.host).netns, src)
        except (links.KernelError, LookupError, CnmError):
            wiring.delete_quietly(box, dst)

    def leave(self, network, endpoint, container, teardown: bool = False) -> None:
        src = endpoint.state.get("src_name")
        if src and endpoint.ifname:
            self._give_back(container, endpoint.ifname, src)
        self._quietly(container.name, "Leave", {"NetworkID": network.id, "EndpointID": endpoint.id}, network, container)

    # -- ports: ProgramExternalConnectivity ---------------------------------------
    def publish(self, network, endpoint, container, ports) -> None:
        portmap = [{"Proto": 6 if p.proto == "tcp" else 17, "IP": "", "Port": p.container_port,
                    "HostIP": "", "HostPort": p.host_port} for p in ports]
        try:
            self._call("ProgramExternalConnectivity", {
                "NetworkID": network.id, "EndpointID": endpoint.id,
                "Options": {"com.docker.network.portmap": portmap,
                            "com.docker.network.endpoint.exposedports": [
                                {"Proto": m["Proto"], "Port": m["Port"]} for m in portmap]}}, network, container)
        except PluginNotImplemented:
            if ports:
                self.ctx.step(container.name, f"plugin {self.name} does not implement ProgramExternalConnectivity: "
                              "ports not published")

    def unpublish(self, network, endpoint, container, ports) -> None:
        self._quietly(container.name, "RevokeExternalConnectivity",
                      {"NetworkID": network.id, "EndpointID": endpoint.id}, network, container)


def _names(*objects) -> tuple[str, ...]:
    """The ids and names of networks, containers and endpoints (an endpoint stands for its container)."""
    out: list[str] = []
    for obj in objects:
        out += [getattr(obj, "id", ""), getattr(obj, "name", ""), getattr(obj, "container_id", "")]
    return tuple(n for n in out if n)
