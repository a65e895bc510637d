"""A container and its CNM sandbox (its network stack): a named namespace with its own hostname.

A container lives Docker's life cycle (container.py): `created` (only this record), `running`
(the sandbox exists, its endpoints are joined and its main process runs) and `exited` (the
sandbox and endpoints are gone again, the exit code stays). What it asked for when it was made
(image, command, networks with their addresses and aliases) is kept here, so every start joins
the same networks again.
"""

from dataclasses import dataclass, field

ZERO_TIME = "0001-01-01T00:00:00Z"  # Docker's StartedAt/FinishedAt before the first start/exit


@dataclass
class PortBinding:
    host_port: int  # 0: an ephemeral port, picked at every start (Docker's `-p 80`, `-P`)
    container_port: int
    proto: str = "tcp"
    host_ip: str = ""  # "": every address of the host (0.0.0.0)
    ephemeral: bool = False

    def __str__(self) -> str:
        return f"{self.host_ip + ':' if self.host_ip else ''}{self.host_port}:{self.container_port}/{self.proto}"


@dataclass
class EndpointConfig:
    """A network the container belongs to, as asked (`--network`, `network connect`): joined at
    every start, so a dynamic address is taken afresh each time, as Docker does."""

    network: str  # network id
    ip: str | None = None
    aliases: list[str] = field(default_factory=list)
    from_connect: bool = False
    mac: str | None = None
    links: list[str] | None = None  # Docker's EndpointConfig.Links and DriverOpts: recorded, shown by
    driver_opts: dict[str, str] | None = None  # inspect; no lab driver uses them


@dataclass
class State:
    """Docker's `State`: what `docker inspect` and `docker ps` show of the main process."""

    status: str = "created"  # created | running | restarting | exited
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME

    @property
    def running(self) -> bool:
        return self.status == "running"


SHARED_PREFIX = "container:"  # Docker's NetworkMode for sharing another container's sandbox


@dataclass
class Container:
    id: str
    name: str
    host: str
    created: str
    network_mode: str = "bridge"  # the first network, or "host" / "none", or "container:NAME"
    ports: list[PortBinding] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)  # endpoint ids in join order (while running)
    next_if: int = 0  # interface numbers are not reused after a disconnect, as in Docker
    labels: dict[str, str] = field(default_factory=dict)
    networks: list[EndpointConfig] = field(default_factory=list)  # joined at every start, in order
    image: str = ""
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    env: list[str] = field(default_factory=list)
    hostname: str = ""
    working_dir: str = ""  # Docker's Config.WorkingDir ("": /)
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    auto_remove: bool = False
    host_config: dict[str, list[str]] = field(default_factory=dict)  # Docker's Dns, DnsSearch, DnsOptions, ExtraHosts
    shares: str = ""  # container:NAME mode, while running: the id of the container whose sandbox it joined
    restart_policy: str = "no"  # Docker's RestartPolicy: no | always | unless-stopped | on-failure
    restart_retries: int = 0  # on-failure's MaximumRetryCount (0: no limit)
    restart_count: int = 0  # restarts by the policy since the last start by hand
    manually_stopped: bool = False  # stop or kill by hand: the policy rests until the next start
    state: State = field(default_factory=lambda: State(status="running"))  # a record from before states ran

    def __post_init__(self) -> None:
        self.hostname = self.hostname or self.short_id

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.state.running

    @property
    def netns(self) -> str:
        """The sandbox key: host-mode containers share their host's namespace (container:NAME ones
        have their own name for NAME's namespace)."""
        return self.host if self.network_mode == "host" else self.name

    @property
    def shared_with(self) -> str | None:
        """NAME of `container:NAME` (the container whose sandbox it joins), else None."""
        return self.network_mode[len(SHARED_PREFIX):] if self.network_mode.startswith(SHARED_PREFIX) else None

    def take_ifname(self) -> str:
        name = f"eth{self.next_if}"
        self.next_if += 1
        return name


def parse_port(spec: str) -> PortBinding:
    """`-p` as `docker run` takes it: `[IP:]HOSTPORT:PORT[/PROTO]`, `[IP:]:PORT` or `PORT` (an ephemeral
    host port)."""
    from ipaddress import IPv4Address

    from .errors import InvalidParameter

    usage = "use [IP:]HOSTPORT:PORT[/tcp|udp] or PORT"
    text, _, proto = spec.partition("/")
    proto = proto or "tcp"
    parts = text.rsplit(":", 2)
    cport = parts[-1]
    host = parts[-2] if len(parts) > 1 else ""
    ip = parts[0] if len(parts) == 3 else ""
    if proto not in ("tcp", "udp") or not cport.isdigit() or (host and not host.isdigit()):
        raise InvalidParameter(f"invalid port specification: \"{spec}\" ({usage})")
    if ip:
        try:
            IPv4Address(ip)
        except ValueError:
            raise InvalidParameter(f"invalid IP address in publish spec: \"{spec}\" ({usage})") from None
    binding = PortBinding(int(host or 0), int(cport), proto, "" if ip == "0.0.0.0" else ip, ephemeral=not host)
    for port in ([binding.host_port] if host else []) + [binding.container_port]:
        if not 1 <= port <= 65535:
            raise InvalidParameter(f"invalid port specification: \"{spec}\" (ports are 1-65535)")
    return binding


def parse_publish(spec: str) -> dict:
    """The same `-p` text as the API's PortBindings entry: {HostIp, HostPort, ContainerPort, Proto}."""
    b = parse_port(spec)
    return {"HostIp": b.host_ip, "HostPort": str(b.host_port) if b.host_port else "",
            "ContainerPort": b.container_port, "Proto": b.proto}


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
