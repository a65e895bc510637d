"""The lab as clients read it: the replies of `GET /hosts`, `GET /networks` and
`GET /containers/json` decoded into types, once, for the TUI (tui/model.py), the notebook
(notebook/state.py) and the labs (labs/live.py).

Only the fields clients read are declared; the engine may send more (Docker's inspect has many).
"""

from __future__ import annotations

import msgspec
from msgspec import field

from . import types


class Reply(msgspec.Struct, rename="pascal", kw_only=True, frozen=True):
    """A JSON object the engine answers with, in Docker's naming."""


class HostView(Reply):
    name: str
    address: str = ""  # "192.168.100.11/24"
    plain: bool = False
    containers: list[str] = []
    networks: list[str] = []

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]


class NetworkMember(Reply):
    """One container's endpoint as `network inspect` lists it."""

    name: str = ""
    endpoint_id: str = field(default="", name="EndpointID")
    mac_address: str = ""
    ipv4_address: str = field(default="", name="IPv4Address")


class NetworkView(Reply):
    id: str = field(name="Id")
    name: str
    driver: str = ""
    scope: str = "local"
    host: str | None = None  # the Docker host of a local-scope network; None: it spans hosts
    internal: bool = False
    attachable: bool = False
    ipam: types.IPAM | None = field(default=None, name="IPAM")
    options: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    containers: dict[str, NetworkMember] | None = None
    network_mode: str = ""  # cnmlab: "host"/"none" for a network that is a network mode
    on_underlay: bool = False  # cnmlab: its containers sit on the LAN itself (macvlan, ipvlan, ...)
    device: str = ""  # cnmlab: the bridge or parent interface behind it

    @property
    def configs(self) -> list[types.IPAMConfig]:
        return list((self.ipam.config if self.ipam else None) or [])

    @property
    def subnet(self) -> str:
        return next((c.subnet for c in self.configs if c.subnet), "")

    @property
    def gateway(self) -> str:
        return next((c.gateway for c in self.configs if c.gateway), "")

    @property
    def option(self) -> dict[str, str]:
        return dict(self.options or {})


class EndpointView(Reply):
    """A container's endpoint on one network (`NetworkSettings.Networks[NAME]`)."""

    network_id: str = field(default="", name="NetworkID")
    endpoint_id: str = field(default="", name="EndpointID")
    ip_address: str = field(default="", name="IPAddress")
    ip_prefix_len: int = field(default=0, name="IPPrefixLen")
    gateway: str = ""
    mac_address: str = ""
    aliases: list[str] | None = None
    interface: str = ""  # cnmlab: the interface inside the sandbox


class NetworkSettingsView(Reply):
    networks: dict[str, EndpointView] | None = None


class HostConfigView(Reply):
    network_mode: str = ""


class PortView(Reply):
    private_port: int = 0
    public_port: int = 0
    type: str = "tcp"


class ContainerView(Reply):
    id: str = field(name="Id")
    names: list[str]
    state: str = "running"  # Docker's State: created | running | restarting | exited
    status: str = ""  # Docker's Status: "Up", "Exited (3)", "Created", "Restarting (1)"
    host: str | None = None
    host_config: HostConfigView | None = None
    network_settings: NetworkSettingsView | None = None
    ports: list[PortView] | None = None

    @property
    def name(self) -> str:
        return self.names[0].lstrip("/") if self.names else self.id[:12]

    @property
    def networks(self) -> dict[str, EndpointView]:
        """Its endpoints by network name."""
        return dict((self.network_settings.networks if self.network_settings else None) or {})

    @property
    def mode(self) -> str:
        return self.host_config.network_mode if self.host_config else ""

    @property
    def note(self) -> str:
        """What a sandbox's picture says besides its endpoints: its state when it is not running
        ("exited (3)", "created"), or whose sandbox it shares (`container:NAME`)."""
        if self.state not in ("running", ""):
            return (self.status or self.state).lower()
        if self.mode.startswith("container:"):
            return f"in {self.mode.split(':', 1)[1]}'s sandbox"
        return ""


class LabView(msgspec.Struct, frozen=True):
    hosts: tuple[HostView, ...] = ()
    networks: tuple[NetworkView, ...] = ()
    containers: tuple[ContainerView, ...] = ()

    @classmethod
    def from_json(cls, hosts: list, networks: list, containers: list) -> LabView:
        """From the decoded replies (lists of dicts), or from views already."""
        return msgspec.convert({"hosts": hosts, "networks": networks, "containers": containers}, cls)

    @classmethod
    def fetch(cls, client) -> LabView:
        return cls.from_json(client.hosts(), client.networks(), client.containers())

    def host(self, name: str) -> HostView | None:
        return next((h for h in self.hosts if h.name == name), None)

    def container(self, name: str) -> ContainerView | None:
        return next((c for c in self.containers if c.name == name), None)

    def network_named(self, name: str, host: str | None = None) -> NetworkView | None:
        """Names repeat across hosts (each host has its own `bridge`): the container's host decides,
        then a network that spans hosts, then any of that name."""
        matches = [n for n in self.networks if name in (n.name, n.id)]
        return next((n for n in matches if n.host == host), None) or \
            next((n for n in matches if n.host is None), None) or (matches[0] if matches else None)
