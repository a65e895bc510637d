"""The lab as the TUI draws it: hosts, networks, endpoints and sandboxes, built from the engine's JSON.

Plain data with no Textual in it, so the tree, the CNM picture and the tests read the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..api.views import LabView

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
    note: str = ""  # not running ("exited (3)", "created"), or in another container's sandbox


@dataclass(frozen=True)
class LabModel:
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


def lab_from_json(hosts: list[dict], networks: list[dict], containers: list[dict]) -> LabModel:
    """Build the model from `GET /hosts`, `GET /networks` and `GET /containers/json`."""
    return lab_from_view(LabView.from_json(hosts, networks, containers))


def lab_from_view(view: LabView) -> LabModel:
    host_views = tuple(HostView(h.name, h.address, h.plain) for h in view.hosts)
    net_views = tuple(
        NetworkView(id=n.id, name=n.name, driver=n.driver, scope=n.scope,
                    subnet=", ".join(c.subnet or "" for c in n.configs), host=n.host, internal=n.internal)
        for n in view.networks)
    ctr_views = []
    for c in view.containers:
        eps = []
        for net_name, ep in c.networks.items():
            net = view.network_named(net_name, c.host)
            eps.append(EndpointView(network_id=net.id if net else "", network=net_name, container=c.name,
                                    interface=ep.interface, ip=ep.ip_address, mac=ep.mac_address))
        eps.sort(key=lambda e: _iface_order(e.interface))
        ctr_views.append(ContainerView(c.id, c.name, c.host or "", tuple(eps), c.note))
    return LabModel(host_views, net_views, tuple(ctr_views))


def _iface_order(ifname: str) -> tuple[str, int]:
    stem = ifname.rstrip("0123456789")
    digits = ifname[len(stem):]
    return (stem, int(digits) if digits else -1)
