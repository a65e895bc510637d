"""The lab as the TUI draws it: hosts, networks, endpoints and sandboxes, built from the engine's JSON.

Plain data with no Textual in it, so the tree, the CNM picture and the tests read the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

PREDEFINED = ("bridge", "host", "none")


@dataclass(frozen=True)
class HostView:
    name: str
    address: str
    plain: bool


@dataclass(frozen=True)
class NetworkView:
    id: str
    name: str
    driver: str
    scope: str
    subnet: str
    host: str | None  # None: a multi-host (global/swarm) network
    internal: bool

    @property
    def predefined(self) -> bool:
        return self.name in PREDEFINED and self.host is not None


@dataclass(frozen=True)
class EndpointView:
    network_id: str
    network: str
    container: str
    interface: str
    ip: str
    mac: str


@dataclass(frozen=True)
class ContainerView:
    id: str
    name: str
    host: str
    endpoints: tuple[EndpointView, ...]


@dataclass(frozen=True)
class Lab:
    hosts: tuple[HostView, ...] = ()
    networks: tuple[NetworkView, ...] = ()
    containers: tuple[ContainerView, ...] = ()

    def network_by_id(self, network_id: str) -> NetworkView | None:
        return next((n for n in self.networks if n.id == network_id), None)

    def container(self, name: str) -> ContainerView | None:
        return next((c for c in self.containers if c.name == name), None)

    def networks_on(self, host: HostView) -> list[NetworkView]:
        """The networks a host's subtree shows: its local ones, and global ones it has endpoints on."""
        if host.plain:
            return []
        return [net for net in self.networks if net.host == host.name
                or (net.host is None and (self.endpoints_on(net, host.name) or not self.containers))]

    def endpoints_on(self, net: NetworkView, host: str | None = None) -> list[EndpointView]:
        return [ep for c in self.containers if host is None or c.host == host
                for ep in c.endpoints if ep.network_id == net.id]

    def drawn_networks(self) -> list[NetworkView]:
        """The networks worth a bar in the picture: every one with endpoints, and every user-made one."""
        return [n for n in self.networks if self.endpoints_on(n) or not n.predefined]

    def network_label(self, net: NetworkView) -> str:
        """The network's name, with its host when several hosts have a network of that name."""
        same = [n for n in self.networks if n.name == net.name]
        return f"{net.name}@{net.host}" if len(same) > 1 and net.host else net.name

    @property
    def empty(self) -> bool:
        return not self.containers and all(n.predefined for n in self.networks)


def lab_from_json(hosts: list[dict], networks: list[dict], containers: list[dict]) -> Lab:
    """Build the model from `GET /hosts`, `GET /networks` and `GET /containers/json`."""
    host_views = tuple(HostView(h["Name"], h.get("Address", ""), bool(h.get("Plain"))) for h in hosts)
    net_views = tuple(
        NetworkView(id=n["Id"], name=n["Name"], driver=n.get("Driver", ""), scope=n.get("Scope", ""),
                    subnet=", ".join(c.get("Subnet", "") for c in (n.get("IPAM") or {}).get("Config") or []),
                    host=n.get("Host"), internal=bool(n.get("Internal")))
        for n in networks)
    ctr_views = []
    for c in containers:
        name = c["Names"][0].lstrip("/")
        eps = []
        for net_name, ep in (c.get("NetworkSettings") or {}).get("Networks", {}).items():
            net = _network_named(net_views, net_name, c.get("Host"))
            eps.append(EndpointView(network_id=net.id if net else "", network=net_name, container=name,
                                    interface=ep.get("Interface") or "", ip=ep.get("IPAddress") or "",
                                    mac=ep.get("MacAddress") or ""))
        eps.sort(key=lambda e: _iface_order(e.interface))
        ctr_views.append(ContainerView(c["Id"], name, c.get("Host") or "", tuple(eps)))
    return Lab(host_views, net_views, tuple(ctr_views))


def _network_named(nets, name: str, host: str | None) -> NetworkView | None:
    """Network names repeat across hosts (each host has its own `bridge`): the container's host decides."""
    matches = [n for n in nets if n.name == name]
    return next((n for n in matches if n.host == host), None) or next((n for n in matches if n.host is None), None) \
        or (matches[0] if matches else None)


def _iface_order(ifname: str) -> tuple[str, int]:
    stem = ifname.rstrip("0123456789")
    digits = ifname[len(stem):]
    return (stem, int(digits) if digits else -1)
