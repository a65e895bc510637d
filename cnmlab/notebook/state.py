"""A snapshot of the lab as plain data: what the diagram draws and the dashboard's menus offer.

Built from the engine's Docker-shaped JSON (`GET /hosts`, `/networks`, `/containers/json`), so it
needs no kernel and loads in a unit test from literal dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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

    @property
    def spans_hosts(self) -> bool:
        return self.host is None

    @property
    def on_underlay(self) -> bool:
        """Macvlan and ipvlan children (and Windows' transparent and l2bridge containers) sit
        directly on the LAN the host's NIC is plugged into."""
        return self.driver in ("macvlan", "ipvlan", "transparent", "l2bridge")

    @property
    def has_data_plane(self) -> bool:
        return self.driver not in ("host", "null")


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
        nets = tuple(_network(n) for n in networks)
        by_endpoint = {ep["EndpointID"]: n["Id"] for n in networks for ep in (n.get("Containers") or {}).values()}
        ctrs, eps = [], []
        for c in containers:
            name = c["Names"][0].lstrip("/")
            mode = c.get("HostConfig", {}).get("NetworkMode", "")
            ctrs.append(ContainerInfo(name, c["Id"], c.get("Host") or "", mode))
            for net_name, ep in (c.get("NetworkSettings", {}).get("Networks") or {}).items():
                net_id = by_endpoint.get(ep.get("EndpointID")) or _guess_network(nets, net_name, c.get("Host"))
                eps.append(EndpointInfo(ep.get("EndpointID", ""), name, net_id, net_name,
                                        ep.get("Interface", ""), ep.get("IPAddress", "")))
        hs = tuple(HostInfo(h["Name"], h.get("Address", ""), bool(h.get("Plain"))) for h in hosts)
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


def _network(n: dict) -> NetworkInfo:
    options = n.get("Options") or {}
    configs = (n.get("IPAM") or {}).get("Config") or [{}]
    device = options.get("com.docker.network.bridge.name") or options.get("parent", "")
    if not device and n.get("Driver") == "bridge":
        device = "br-" + n["Id"][:12]
    host = n.get("Host") if n.get("Scope", "local") == "local" else None
    return NetworkInfo(n["Id"], n["Name"], n.get("Driver", ""), host, configs[0].get("Subnet", ""), device,
                       bool(n.get("Internal")))


def _guess_network(nets: tuple[NetworkInfo, ...], name: str, host: str | None) -> str:
    for n in nets:
        if n.name == name and (n.host is None or n.host == host):
            return n.id
    return ""
