"""A snapshot of the lab as plain data: what the diagram draws and the dashboard's menus offer.

Built from the engine's Docker-shaped JSON (`GET /hosts`, `/networks`, `/containers/json`), so it
needs no kernel and loads in a unit test from literal dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..api.views import LabView, NetworkView


@dataclass(frozen=True)
class HostInfo:
    name: str
    address: str  # "192.168.100.11/24"
    plain: bool = False  # a plain machine on the LAN, not a Docker host


@dataclass(frozen=True)
class NetworkInfo:
    id: str
    name: str
    driver: str
    host: str | None  # None: a global-scope network that spans hosts (overlay)
    subnet: str = ""
    device: str = ""  # the Linux device behind it (bridge name, macvlan parent), when known
    internal: bool = False
    on_underlay: bool = False  # its containers sit directly on the LAN the host's NIC is plugged into
    network_mode: str = ""  # "host"/"none": the network is a network mode, with no data plane of its own

    @property
    def spans_hosts(self) -> bool:
        return self.host is None

    @property
    def has_data_plane(self) -> bool:
        return not self.network_mode


@dataclass(frozen=True)
class EndpointInfo:
    id: str
    container: str
    network_id: str
    network: str
    interface: str = ""
    ip: str = ""


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    id: str
    host: str
    mode: str = "bridge"  # HostConfig.NetworkMode
    note: str = ""  # not running ("exited (3)", "created"), or in another container's sandbox
    state: str = "running"  # Docker's State: created | running | restarting | exited


@dataclass(frozen=True)
class LabState:
    hosts: tuple[HostInfo, ...] = ()
    networks: tuple[NetworkInfo, ...] = ()
    containers: tuple[ContainerInfo, ...] = ()
    endpoints: tuple[EndpointInfo, ...] = field(default=())

    @classmethod
    def fetch(cls, client) -> LabState:
        return cls.from_api(client.hosts(), client.networks(), client.containers())

    @classmethod
    def from_api(cls, hosts: list[dict], networks: list[dict], containers: list[dict]) -> LabState:
        return cls.from_view(LabView.from_json(hosts, networks, containers))

    @classmethod
    def from_view(cls, view: LabView) -> LabState:
        nets = tuple(_network(n) for n in view.networks)
        by_endpoint = {m.endpoint_id: n.id for n in view.networks for m in (n.containers or {}).values()}
        ctrs, eps = [], []
        for c in view.containers:
            ctrs.append(ContainerInfo(c.name, c.id, c.host or "", c.mode, c.note, c.state))
            for net_name, ep in c.networks.items():
                net = view.network_named(net_name, c.host)
                net_id = by_endpoint.get(ep.endpoint_id) or (net.id if net else "")
                eps.append(EndpointInfo(ep.endpoint_id, c.name, net_id, net_name, ep.interface, ep.ip_address))
        hs = tuple(HostInfo(h.name, h.address, h.plain) for h in view.hosts)
        return cls(hs, nets, tuple(ctrs), tuple(eps))

    # -- look-ups the dashboard and the diagram share -------------------------------
    def container_names(self) -> list[str]:
        return [c.name for c in self.containers]

    def network_names(self) -> list[str]:
        return sorted({n.name for n in self.networks})

    def endpoints_of(self, network_id: str) -> list[EndpointInfo]:
        return [e for e in self.endpoints if e.network_id == network_id]

    def endpoints_in(self, container: str) -> list[EndpointInfo]:
        return [e for e in self.endpoints if e.container == container]


def _network(n: NetworkView) -> NetworkInfo:
    options = n.option
    device = n.device or options.get("com.docker.network.bridge.name") or options.get("parent", "")
    host = n.host if n.scope == "local" else None
    return NetworkInfo(n.id, n.name, n.driver, host, n.subnet, device, n.internal, n.on_underlay, n.network_mode)
