"""The request bodies of the engine's API, declared once: the engine decodes with them, the client
builds them, and the OpenAPI document (api/openapi.py) is generated from them.

Field names on the wire are Docker's (PascalCase, with Docker's spelling of acronyms: IPAM,
IPRange, EnableIPv6). Like Docker's Go decoder, unknown fields are ignored and `null` is
accepted for every object, list and map; unlike a hand-written parser, a value of the wrong type
is refused (`"Internal": "false"` is not true, `"Aliases": "abc"` is not three aliases).

Values that need the lab to judge them (is this name free, is this subnet usable) are checked by
the controller, so the CLI, the TUI, the labs and the API refuse them with the same words. What
a type can say by itself (a port is 0-65535) is said here.

To add a body: subclass `Body`, name the Python fields in snake_case (the wire name is the
PascalCase form, or `field(name=...)` where Docker spells it otherwise), and pass the type to
`@router.route(..., body=TheType)`; the route then gets the decoded value as `req.body`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from msgspec import Meta, field

from ..names import CONTAINER_NAME, NETWORK_NAME



def _ecma(pattern: re.Pattern) -> str:
    """A Python whole-string pattern in JSON Schema's (ECMA) spelling."""
    return pattern.pattern.replace("\\A", "^").replace("\\Z", "$")


# Documented here, checked by the controller (names.py), so every client gets Docker's message.
NetworkName = Annotated[str, Meta(description="Docker's network name rule (one character is enough)",
                                  extra_json_schema={"pattern": _ecma(NETWORK_NAME), "maxLength": 64})]
ContainerName = Annotated[str, Meta(description="Docker's container name rule (at least two characters)",
                                    extra_json_schema={"pattern": _ecma(CONTAINER_NAME), "maxLength": 64})]
Strings = dict[str, str] | None  # Docker's Options and Labels maps
# Ranges (a port's, a timeout's) are checked where the lab explains them best ("invalid port 70000").
Port = int
Seconds = float


class Body(msgspec.Struct, rename="pascal", kw_only=True, omit_defaults=True):
    """A JSON object on the wire, in Docker's naming."""


class Strict(Body, forbid_unknown_fields=True):
    """The lab's own bodies (not Docker's): a misspelt field is an error, not silently ignored."""


# -- networks -------------------------------------------------------------------
class IPAMConfig(Body):
    subnet: str | None = None
    ip_range: str | None = field(default=None, name="IPRange")
    gateway: str | None = None
    aux_addresses: Strings = field(default=None, name="AuxiliaryAddresses")


class IPAM(Body):
    driver: str = "default"
    config: list[IPAMConfig] | None = None
    options: Strings = None


class ConfigReference(Body):
    network: str = ""


class NetworkCreate(Body):
    """`POST /networks/create`, Docker's body plus `Host` (the lab's Docker host, default: the first)."""

    name: NetworkName
    check_duplicate: bool = False
    driver: str = "bridge"
    scope: str = ""
    internal: bool = False
    attachable: bool = False
    ingress: bool = False
    config_only: bool = False  # swarm's config-only networks: refused by the lab
    config_from: ConfigReference | None = None
    ipam: IPAM | None = field(default=None, name="IPAM")
    enable_ipv6: bool = field(default=False, name="EnableIPv6")
    options: Strings = None
    labels: Strings = None
    host: str | None = None

    @classmethod
    def of(cls, name: str, driver: str = "bridge", subnet: str | None = None, gateway: str | None = None,
           ip_range: str | None = None, aux_addresses: dict[str, str] | None = None, internal: bool = False,
           attachable: bool = False, options: dict[str, str] | None = None, labels: dict[str, str] | None = None,
           ipv6: bool = False, host: str | None = None, ipam_driver: str | None = None) -> NetworkCreate:
        """The body for `docker network create`'s flags (the names the CLI, TUI and labs use)."""
        config = IPAMConfig(subnet=subnet or None, gateway=gateway or None, ip_range=ip_range or None,
                            aux_addresses=aux_addresses or None)
        return cls(name=name, driver=driver or "bridge", internal=internal, attachable=attachable,
                   enable_ipv6=ipv6, options=options or {}, labels=labels or {}, host=host or None,
                   ipam=IPAM(driver=ipam_driver or "default", config=[config] if config != IPAMConfig() else []))

    def arguments(self) -> dict[str, Any]:
        """The controller's create_network arguments (the inverse of `of`)."""
        ipam = self.ipam or IPAM()
        configs = ipam.config or [IPAMConfig()]
        if len(configs) > 1:
            from ..errors import InvalidParameter

            raise InvalidParameter("only one IPv4 subnet per network is supported in the lab")
        cfg = configs[0]
        return dict(name=self.name, driver=self.driver or "bridge", subnet=cfg.subnet, gateway=cfg.gateway,
                    ip_range=cfg.ip_range, aux_addresses=cfg.aux_addresses or {}, internal=self.internal,
                    attachable=self.attachable, options=self.options or {}, labels=self.labels or {},
                    ipv6=self.enable_ipv6, host=self.host, ipam_driver=ipam.driver or "default")


class EndpointIPAMConfig(Body):
    ipv4_address: str | None = field(default=None, name="IPv4Address")
    ipv6_address: str | None = field(default=None, name="IPv6Address")
    link_local_ips: list[str] | None = field(default=None, name="LinkLocalIPs")


class EndpointSettings(Body):
    """An endpoint as a request asks for it (connect, container create)."""

    ipam_config: EndpointIPAMConfig | None = field(default=None, name="IPAMConfig")
    links: list[str] | None = None
    aliases: list[str] | None = None
    driver_opts: Strings = None
    mac_address: str | None = None  # per endpoint since API 1.44

    @classmethod
    def of(cls, ip: str | None = None, aliases: list[str] | None = None) -> EndpointSettings:
        return cls(aliases=list(aliases or []), ipam_config=EndpointIPAMConfig(ipv4_address=ip) if ip else None)

    @property
    def ip(self) -> str | None:
        return self.ipam_config.ipv4_address if self.ipam_config else None


class NetworkConnect(Body):
    container: str
    endpoint_config: EndpointSettings | None = None


class NetworkDisconnect(Body):
    container: str
    force: bool = False


# -- containers -----------------------------------------------------------------
class PortBinding(Body):
    host_ip: str = ""
    host_port: str = ""


class RestartPolicy(Body):
    """Docker's HostConfig.RestartPolicy: no, always, unless-stopped, on-failure (MaximumRetryCount)."""

    name: str = ""
    maximum_retry_count: int = 0


class HostConfig(Body):
    network_mode: str = ""
    restart_policy: RestartPolicy | None = None
    port_bindings: dict[str, list[PortBinding] | None] | None = None
    publish_all_ports: bool = False
    auto_remove: bool = False
    dns: list[str] | None = None
    dns_search: list[str] | None = None
    dns_options: list[str] | None = None
    extra_hosts: list[str] | None = None
    links: list[str] | None = None


class NetworkingConfig(Body):
    endpoints_config: dict[str, EndpointSettings | None] | None = None


Command = list[str] | str | None  # Docker takes a list; a string is one word


def argv(value: Command) -> list[str] | None:
    return [value] if isinstance(value, str) else (list(value) if value is not None else None)


class ContainerCreate(Body):
    """`POST /containers/create?name=NAME`: Docker's body (the parts the lab uses), plus `Host`."""

    name: str | None = None  # Docker takes the name from the query; the lab accepts it here too
    image: str = ""
    cmd: Command = None
    entrypoint: Command = None
    env: list[str] | None = None
    hostname: str = ""
    working_dir: str = ""
    mac_address: str | None = None  # before API 1.44: the first network's MAC
    exposed_ports: dict[str, Any] | None = None
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    labels: Strings = None
    host_config: HostConfig | None = None
    networking_config: NetworkingConfig | None = None
    host: str | None = None

    @classmethod
    def of(cls, network: str | list[str] | None = None, ip: str | None = None, aliases: list[str] | None = None,
           ports: list[str | dict] | None = None, host: str | None = None, labels: dict[str, str] | None = None,
           image: str | None = None, cmd: list[str] | None = None, env: list[str] | None = None, tty: bool = False,
           stdin: bool = False, auto_remove: bool = False, entrypoint: list[str] | None = None,
           hostname: str | None = None, restart: str | None = None, working_dir: str = "") -> ContainerCreate:
        """The body for `docker run`'s flags: `network` may name several (all are joined); `ip` and
        `aliases` are for the first; `ports` are `-p` texts (checked here, as the Docker CLI checks
        them before asking the daemon) or {"HostIp", "HostPort", "ContainerPort", "Proto"} dicts."""
        from ..sandbox import parse_publish

        networks = [network] if isinstance(network, str) else list(network or [])
        bindings: dict[str, list[PortBinding] | None] = {}
        for spec in ports or []:
            port = spec if isinstance(spec, dict) else parse_publish(spec)
            bindings.setdefault(f"{port['ContainerPort']}/{port['Proto']}", []).append(
                PortBinding(host_ip=port.get("HostIp") or "", host_port=str(port.get("HostPort") or "")))
        endpoints: dict[str, EndpointSettings | None] = {n: EndpointSettings(aliases=[]) for n in networks}
        if networks:
            endpoints[networks[0]] = EndpointSettings.of(ip, aliases)
        elif aliases:  # aliases without a network go to the default bridge, which refuses them
            endpoints["bridge"] = EndpointSettings.of(None, aliases)
        policy = None
        if restart:  # `--restart NAME[:N]`, as the docker CLI sends it
            from ..errors import InvalidParameter

            name, _, count = restart.partition(":")
            if count and not count.isdigit():
                raise InvalidParameter(f"invalid restart policy format: maximum retry count must be an integer: {count}")
            policy = RestartPolicy(name=name, maximum_retry_count=int(count or 0))
        return cls(host_config=HostConfig(network_mode=networks[0] if networks else "default", port_bindings=bindings,
                                          auto_remove=auto_remove, restart_policy=policy),
                   networking_config=NetworkingConfig(endpoints_config=endpoints) if endpoints else None,
                   host=host or None, labels=labels or {}, image=image or "", cmd=cmd, entrypoint=entrypoint,
                   env=list(env or []), tty=tty, open_stdin=stdin, stdin_once=stdin, hostname=hostname or "",
                   working_dir=working_dir or "")

    def networks(self) -> tuple[list[str], dict[str, EndpointSettings]]:
        """The networks to join in order (NetworkMode, then the other EndpointsConfig entries) and
        each one's settings. `default` is the default bridge (a current CLI names its settings so)."""
        host_cfg = self.host_config or HostConfig()
        endpoints = {n: cfg or EndpointSettings()
                     for n, cfg in ((self.networking_config.endpoints_config if self.networking_config else None)
                                    or {}).items()}
        mode = host_cfg.network_mode or "default"
        if mode == "default":
            endpoints.pop("default", None)
        primary = [] if mode == "default" else [mode]
        return primary + [n for n in endpoints if n not in primary], endpoints

    def arguments(self, name: str | None) -> dict[str, Any]:
        """The controller's create_container arguments."""
        host_cfg = self.host_config or HostConfig()
        networks, endpoints = self.networks()
        configs = {n: {"ip": cfg.ip, "aliases": list(cfg.aliases or []), "mac": cfg.mac_address}
                   for n, cfg in endpoints.items()}
        ports = [f"{b.host_ip + ':' if b.host_ip else ''}{b.host_port}:{key.partition('/')[0]}/"
                 f"{key.partition('/')[2] or 'tcp'}"
                 for key, bindings in (host_cfg.port_bindings or {}).items() for b in bindings or [PortBinding()]]
        return dict(name=name or self.name or None, network=networks, endpoint_configs=configs, ports=ports,
                    host=self.host, labels=self.labels or {}, image=self.image, cmd=argv(self.cmd),
                    entrypoint=argv(self.entrypoint), env=list(self.env or []), hostname=self.hostname or None,
                    tty=self.tty, open_stdin=self.open_stdin, stdin_once=self.stdin_once, working_dir=self.working_dir,
                    auto_remove=host_cfg.auto_remove, mac=self.mac_address or None,
                    restart_policy=(host_cfg.restart_policy.name, host_cfg.restart_policy.maximum_retry_count)
                    if host_cfg.restart_policy else None)


class ContainerUpdate(Body):
    """`POST /containers/{id}/update` (`docker update`): the lab keeps the restart policy; it sets
    no resource limits, so those fields are accepted and left alone."""

    restart_policy: RestartPolicy | None = None


class ExecCreate(Body):
    """`POST /containers/{id}/exec`: a command to run beside the main process (`docker exec`)."""

    cmd: list[str] | str | None = None  # Docker's strslice: one string is a one-word command
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    tty: bool = False
    env: list[str] | None = None
    user: str = ""
    privileged: bool = False
    working_dir: str = ""
    detach_keys: str = ""
    console_size: list[int] | None = None

    @property
    def argv(self) -> list[str]:
        return [self.cmd] if isinstance(self.cmd, str) else list(self.cmd or [])


class ExecStart(Body):
    """`POST /exec/{id}/start`: detached, or streaming over the (hijacked) connection."""

    detach: bool = False
    tty: bool = False
    console_size: list[int] | None = None


# -- hosts ----------------------------------------------------------------------
class HostCreate(Body):
    """`POST /hosts/create`: a Docker host (or a plain machine) on the lab's underlay LAN."""

    name: str
    address: str | None = None
    plain: bool = False


# -- topologies (engine/batch.py) ---------------------------------------------------
class TopologyNetwork(Strict):
    name: NetworkName
    driver: str | None = None
    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = field(default=None, name="IPRange")
    internal: bool = False
    attachable: bool = False
    options: Strings = None
    labels: Strings = None
    host: str | None = None

    def arguments(self) -> dict[str, Any]:
        return dict(name=self.name, driver=self.driver or "bridge", subnet=self.subnet, gateway=self.gateway,
                    ip_range=self.ip_range, internal=self.internal, attachable=self.attachable,
                    options=self.options or {}, labels=self.labels or {}, host=self.host)


class TopologyContainer(Strict):
    name: ContainerName
    network: str | list[str] | None = None
    ip: str | None = field(default=None, name="IP")
    aliases: list[str] | None = None
    ports: list[str] | None = None
    host: str | None = None
    labels: Strings = None

    def arguments(self) -> dict[str, Any]:
        return dict(name=self.name, network=self.network, ip=self.ip, aliases=list(self.aliases or []),
                    ports=list(self.ports or []), host=self.host, labels=self.labels or {})


class Topology(Strict):
    """`POST /lab/apply` and `DELETE /lab/apply`: many networks and containers in one request."""

    networks: list[TopologyNetwork] | None = None
    containers: list[TopologyContainer] | None = None


# -- packets (cnmlab.probe) ----------------------------------------------------------
class Probe(Strict):
    """`POST /lab/probe` and `/lab/trace`: one test packet from a container or host."""

    source: str
    destination: str
    proto: str = "icmp"
    port: Port | None = None
    timeout: Seconds | None = None
    size: int | None = None  # the IP packet's length (icmp, udp; DF set), to test a path's MTU


class Matrix(Strict):
    """`POST /lab/matrix`: every ordered pair of containers."""

    proto: str = "icmp"
    port: Port | None = None
    network: str | None = None
    explain: bool = False
    timeout: Seconds | None = None
    by: str = "endpoint"  # "container": one column per container, not per endpoint
    size: int | None = None  # the IP packet's length (icmp, udp; DF set), to test every path's MTU


# -- services ----------------------------------------------------------------------
class ServiceCreate(Strict):
    name: str
    network: str
    replicas: int = 1
    ports: list[str] | None = None
    endpoint_mode: str = "vip"
    host: str | None = None


class ServiceScale(Strict):
    replicas: int


# -- plugins -------------------------------------------------------------------------
class PluginRun(Strict):
    """`POST /plugins/run`: start a plugin process in a host's namespace inside the world."""

    argv: list[str]
    host: str | None = None
    cwd: str | None = None
    env: Strings = None
    wait: Seconds = 10.0


class PluginStop(Strict):
    force: bool = False


# Fields whose values name lab objects (networks, containers): two changes that name none in common
# may run at once (engine/kernel_thread.py). EndpointsConfig's keys are network names too.
REF_FIELDS = frozenset({"name", "container", "network", "network_mode"})


def refs(value: Any) -> list[str]:
    """The names and ids of lab objects a request body mentions."""
    out: list[str] = []
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            item = getattr(value, name)
            if name in REF_FIELDS and isinstance(item, (str, list)):
                names = [item] if isinstance(item, str) else [i for i in item if isinstance(i, str)]
                out += [n for n in names if n and n != "default"]  # NetworkMode default: no object named
            elif name == "endpoints_config" and isinstance(item, dict):
                out += list(item)
            else:
                out += refs(item)
    elif isinstance(value, list):
        for item in value:
            out += refs(item) if isinstance(item, msgspec.Struct) else []
    return out


BODIES: tuple[type[Body], ...] = (NetworkCreate, NetworkConnect, NetworkDisconnect, ContainerCreate, HostCreate,
                                  Topology, Probe, Matrix, ServiceCreate, ServiceScale, PluginRun, PluginStop)


# -- replies ---------------------------------------------------------------------------
# What the lab's routes answer, declared in Docker's wire names (as Docker's Go types spell them).
# Replies are open: a feature may add fields (docker_views' hooks: DNS names, services), so a
# client must ignore fields it does not know. The OpenAPI document is generated from these; the
# engine checks each reply against its route's type when CNMLAB_CHECK_REPLIES=1 (the test suite).
class Reply(msgspec.Struct, omit_defaults=False):
    """A JSON object the engine answers."""


class Error(Reply):
    """Every refusal: one line for the user. 400 bad input, 403 forbidden, 404 not found,
    409 conflict, 413 body too large, 501 the kernel lacks a feature, 503 busy, 500 a cnmlab bug."""

    message: str


class EngineStatus(Reply):
    pid: int
    socket: str
    version: str
    store: str
    uid: int
    rootless: bool
    started: float


class NetworkCreated(Reply):
    Id: str
    Warning: str = ""


class ContainerCreated(Reply):
    Id: str
    Warnings: list[str] | None = None
    Started: bool | None = None  # cnmlab: `?start=1` started it too (Client.run)


class IPAMConfigReply(Reply):
    Subnet: str
    IPRange: str | None = None
    Gateway: str | None = None
    AuxiliaryAddresses: dict[str, str] | None = None


class IPAMReply(Reply):
    Driver: str
    Options: dict[str, str] | None
    Config: list[IPAMConfigReply]


class NetworkContainer(Reply):
    """A container's endpoint as `network inspect` lists it."""

    Name: str
    EndpointID: str
    MacAddress: str
    IPv4Address: str
    IPv6Address: str


class NetworkInspect(Reply):
    """`GET /networks/{id}` and each item of `GET /networks`."""

    Name: str
    Id: str
    Created: str
    Scope: str
    Driver: str
    EnableIPv6: bool
    IPAM: IPAMReply
    Internal: bool
    Attachable: bool
    Ingress: bool
    ConfigFrom: dict[str, str]
    ConfigOnly: bool
    Containers: dict[str, NetworkContainer]
    Options: dict[str, str]
    Labels: dict[str, str]
    Host: str | None  # cnmlab: the simulated Docker host of a local-scope network (None: global)


class ContainerState(Reply):
    Status: str
    Running: bool
    Paused: bool
    Restarting: bool
    OOMKilled: bool
    Dead: bool
    Pid: int
    ExitCode: int
    Error: str
    StartedAt: str
    FinishedAt: str


class EndpointReply(Reply):
    """A container's network as `docker inspect` shows it (NetworkSettings.Networks[NAME])."""

    IPAMConfig: dict[str, str] | None
    Links: list[str] | None
    Aliases: list[str] | None
    NetworkID: str
    EndpointID: str
    Gateway: str
    IPAddress: str
    IPPrefixLen: int
    MacAddress: str
    DriverOpts: dict[str, str] | None
    Interface: str  # cnmlab: the interface inside the sandbox


class PortBindingReply(Reply):
    HostIp: str
    HostPort: str


class NetworkSettings(Reply):
    SandboxID: str
    SandboxKey: str
    Ports: dict[str, list[PortBindingReply] | None]
    Gateway: str
    IPAddress: str
    IPPrefixLen: int
    MacAddress: str
    EndpointID: str
    Networks: dict[str, EndpointReply]
    UtsKey: str = ""  # cnmlab: the sandbox's UTS namespace (its hostname)
    DefaultGateway: str = ""  # cnmlab: the default route the sandbox uses


class ContainerConfigReply(Reply):
    Hostname: str
    Labels: dict[str, str]
    Image: str
    Cmd: list[str] | None
    Entrypoint: list[str] | None
    Env: list[str]
    Tty: bool
    OpenStdin: bool
    StdinOnce: bool


class HostConfigReply(Reply):
    NetworkMode: str
    AutoRemove: bool = False
    PortBindings: dict[str, list[PortBindingReply] | None] | None = None


class ContainerInspect(Reply):
    """`GET /containers/{id}/json` (`docker inspect`)."""

    Id: str
    Created: str
    Path: str
    Args: list[str]
    State: ContainerState
    Image: str
    LogPath: str
    Name: str
    Config: ContainerConfigReply
    HostConfig: HostConfigReply
    NetworkSettings: NetworkSettings
    Host: str  # cnmlab: the simulated Docker host the container runs on


class PortReply(Reply):
    PrivatePort: int
    PublicPort: int
    Type: str
    IP: str


class SummaryEndpoint(Reply):
    IPAddress: str
    MacAddress: str
    Interface: str
    EndpointID: str


class SummaryNetworks(Reply):
    Networks: dict[str, SummaryEndpoint]


class ContainerSummary(Reply):
    """One item of `GET /containers/json` (`docker ps`)."""

    Id: str
    Names: list[str]
    Created: str
    Image: str
    Command: str
    State: str
    Status: str
    Labels: dict[str, str]
    Ports: list[PortReply]
    HostConfig: HostConfigReply
    NetworkSettings: SummaryNetworks
    Host: str


class HostInspect(Reply):
    """`GET /hosts/{name}` and each item of `GET /hosts`."""

    Name: str
    Address: str
    Plain: bool
    Interface: str
    UnderlayPort: str | None
    Containers: list[str]
    Networks: list[str]


class NetworksPruned(Reply):
    NetworksDeleted: list[str] | None


class LabReset(Reply):
    reset: bool


class EngineStopping(Reply):
    stopping: int
