"""A simulated Docker host: a namespace with an `eth0` on the lab's underlay switch."""

from dataclasses import dataclass, field


@dataclass
class Host:
    name: str
    address: str  # on the underlay, e.g. 192.168.100.11
    prefixlen: int = 24
    plain: bool = False  # an "existing" machine on the LAN (a router, a legacy server), not a Docker host
    mtu: int = 1500
    options: dict = field(default_factory=dict)

    @property
    def netns(self) -> str:
        return self.name

    @property
    def underlay_port(self) -> str:
        return f"u-{self.name}"
