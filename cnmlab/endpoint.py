"""A CNM endpoint: one interface joining one sandbox to one network."""

from dataclasses import dataclass, field


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
