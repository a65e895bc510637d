"""A CNM sandbox (a container's network stack): a named namespace with its own hostname.

Lab containers have no image or process of their own: the sandbox is the container, and the
engine serves small test services inside it (see services.py).
"""

from dataclasses import dataclass, field


@dataclass
class PortBinding:
    host_port: int
    container_port: int
    proto: str = "tcp"

    def __str__(self) -> str:
        return f"{self.host_port}:{self.container_port}/{self.proto}"


@dataclass
class Container:
    id: str
    name: str
    host: str
    created: str
    network_mode: str = "bridge"  # the first network, or "host" / "none"
    ports: list[PortBinding] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)  # endpoint ids in join order
    next_if: int = 0  # interface numbers are not reused after a disconnect, as in Docker
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def hostname(self) -> str:
        return self.short_id

    @property
    def netns(self) -> str:
        """The sandbox key: host-mode containers share their host's namespace."""
        return self.host if self.network_mode == "host" else self.name

    def take_ifname(self) -> str:
        name = f"eth{self.next_if}"
        self.next_if += 1
        return name


def parse_port(spec: str) -> PortBinding:
    """`-p HOSTPORT:CONTAINERPORT[/tcp|udp]`, as `docker run -p` takes it (without a host IP)."""
    from .errors import InvalidParameter

    text, _, proto = spec.partition("/")
    proto = proto or "tcp"
    host, sep, cport = text.partition(":")
    if proto not in ("tcp", "udp") or not sep or not host.isdigit() or not cport.isdigit():
        raise InvalidParameter(f"invalid port specification: \"{spec}\" (use HOSTPORT:CONTAINERPORT[/tcp|udp])")
    binding = PortBinding(int(host), int(cport), proto)
    for port in (binding.host_port, binding.container_port):
        if not 1 <= port <= 65535:
            raise InvalidParameter(f"invalid port specification: \"{spec}\" (ports are 1-65535)")
    return binding


class ContainerTable(dict):
    """The lab's containers by id, with an index by name, so finding one (`rm NAME`, the name
    check of every `run`) costs the same with 2,000 containers as with 2. Names never change."""

    def __init__(self) -> None:
        super().__init__()
        self.by_name: dict[str, Container] = {}

    def __setitem__(self, key: str, container: Container) -> None:
        super().__setitem__(key, container)
        self.by_name[container.name] = container

    def __delitem__(self, key: str) -> None:
        self.by_name.pop(self[key].name, None)
        super().__delitem__(key)

    def pop(self, key: str, *default):
        if key in self:
            self.by_name.pop(self[key].name, None)
        return super().pop(key, *default)

    def clear(self) -> None:
        self.by_name.clear()
        super().clear()
