"""A CNM network: a group of endpoints that can talk to each other directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ipam import Pool

PREDEFINED = ("bridge", "host", "none")
# A host's way out for sandboxes no network gives a gateway (libnetwork's default_gateway.go):
# icc off, masquerade on. Joined and left by the sandbox (sandbox.py: sync_default_gw).
GW_NETWORK = "docker_gwbridge"
GW_OPTIONS = {
    "com.docker.network.bridge.name": GW_NETWORK,
    "com.docker.network.bridge.enable_icc": "false",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
}


@dataclass
class IpamConfig:
    subnet: str
    gateway: str | None = None  # the address actually used; None when the driver needs none
    ip_range: str | None = None
    aux_addresses: dict[str, str] = field(default_factory=dict)
    user_subnet: bool = False  # given with --subnet: Docker then shows no Gateway key unless given
    user_gateway: bool = False

    @classmethod
    def of(cls, pool: Pool, subnet: str | None, gateway: str | None, ip_range: str | None,
           aux: dict[str, str] | None, predefined: bool) -> IpamConfig:
        """What `network create` asked for and what IPAM planned (`Pool`): as inspect shows it."""
        return cls(subnet=subnet or str(pool.subnet), gateway=str(pool.gateway) if pool.gateway else None,
                   ip_range=ip_range, aux_addresses=dict(aux or {}),
                   user_subnet=bool(subnet) or predefined, user_gateway=bool(gateway))


@dataclass
class Network:
    id: str
    name: str
    driver: str
    scope: str  # "local" (one host) or "global" (spans hosts)
    created: str
    host: str | None  # the host of a local-scope network
    ipam: list[IpamConfig] = field(default_factory=list)
    ipam_driver: str = "default"
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    predefined: bool = False
    state: dict = field(default_factory=dict)  # what the driver made: bridge name, VNI, ...

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def option(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def on_host(self, host: str) -> bool:
        return self.host is None or self.host == host
