"""A container and its CNM sandbox (its network stack): a named namespace with its own hostname.

`Sandbox` is libnetwork's sandbox.go: it builds and deletes the namespace, joins and leaves
endpoints (endpoint.py does each join), picks the endpoint that gives the default route
(`updateGateway`), joins `docker_gwbridge` when no network gives one, and programs the published
ports on that gateway endpoint, moving them when it changes.

A container lives Docker's life cycle (container.py): `created` (only this record), `running`
(the sandbox exists, its endpoints are joined and its main process runs) and `exited` (the
sandbox and endpoints are gone again, the exit code stays). What it asked for when it was made
(image, command, networks with their addresses and aliases) is kept here, so every start joins
the same networks again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import endpoint as endpoints
from .errors import InvalidParameter
from .network import GW_NETWORK, GW_OPTIONS

if TYPE_CHECKING:
    from .controller import Controller
    from .endpoint import Endpoint
    from .network import Network

ETC_NETNS = "/etc/netns"  # the world's private view, bind-mounted over /etc by `ip netns exec`
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

    def holds(self) -> list[str]:
        """What a change to this container touches, for the engine's kernel thread: itself, its
        networks and a sandbox it shares. A change parked on a plugin holding none of them (a hung
        Join elsewhere) does not hold up its stop, exit or restart."""
        shared = [self.network_mode.partition(":")[2], self.shares] if self.network_mode.startswith("container:") else []
        return [self.id, *(n.network for n in self.networks), *filter(None, shared)]

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
    check of every `run`) costs the same with 2,000 containers as with 2, and the few in
    `container:NAME` mode apart, so removing a sandbox does not walk them all for its sharers.
    Names and network modes never change."""

    def __init__(self) -> None:
        super().__init__()
        self.by_name: dict[str, Container] = {}
        self.sharing: dict[str, Container] = {}  # those in container:NAME mode, by id

    def __setitem__(self, key: str, container: Container) -> None:
        super().__setitem__(key, container)
        self.by_name[container.name] = container
        if container.network_mode.startswith(SHARED_PREFIX):
            self.sharing[key] = container

    def __delitem__(self, key: str) -> None:
        self.by_name.pop(self[key].name, None)
        self.sharing.pop(key, None)
        super().__delitem__(key)

    def pop(self, key: str, *default):
        if key in self:
            self.by_name.pop(self[key].name, None)
            self.sharing.pop(key, None)
        return super().pop(key, *default)

    def clear(self) -> None:
        self.by_name.clear()
        self.sharing.clear()
        super().clear()


class Sandbox:
    """A running container's network stack, and the decisions libnetwork's sandbox makes for it.

    The controller keeps one per running container (`ctl.sandboxes`); the container record keeps
    the endpoint ids in join order. `ports_on` is the endpoint its published ports are
    programmed on in the kernel (None: nowhere).
    """

    def __init__(self, ctl: Controller, container: Container) -> None:
        self.ctl = ctl
        self.container = container
        self.ports_on: str | None = None

    # -- the namespace ------------------------------------------------------------
    def build(self, services: bool = True) -> None:
        """The namespace (a host-mode container uses its host's), the test services, the hooks."""
        ctl, c = self.ctl, self.container
        opened = ctl.kernel.create_sandbox(c.netns, c.hostname) if c.network_mode != "host" else None
        ctl.sandboxes[c.id] = self
        try:
            if services:
                ctl.builtin_services.start(c.netns, c.name, opened)
            else:
                for sock in opened or ():  # a main process may listen on them: the services stay shut
                    sock.close()
        except OSError:
            if c.network_mode != "host":
                ctl.sandboxes.pop(c.id, None)
                ctl.kernel.delete_sandbox(c.netns)
                raise
            # host mode: the host's namespace serves its first host-mode container's services
        try:
            ctl.hooks.run(ctl.hooks.sandbox_created, c)
        except BaseException:
            self.delete()
            raise
        ctl.kernel.make_spares()  # behind the hooks' writes (its resolver), which the request waits for

    def share(self, target: Container) -> None:
        """`container:NAME`: no namespace of its own, NAME's under this container's name too (a
        second bind mount, so the processes here keep it after NAME stops, as in Docker), with a
        UTS namespace holding NAME's hostname and NAME's resolv.conf and hosts. Nothing else is
        built: NAME's services already answer there."""
        ctl, c = self.ctl, self.container
        c.hostname = target.hostname
        ctl.kernel.share_sandbox(c.netns, target.netns, c.hostname)
        if os.path.ismount(ETC_NETNS) and os.path.isdir(os.path.join(ETC_NETNS, target.netns)):
            shutil.copytree(os.path.join(ETC_NETNS, target.netns), os.path.join(ETC_NETNS, c.netns),
                            dirs_exist_ok=True)
        c.shares = target.id
        ctl.sandboxes[c.id] = self

    def delete(self) -> None:
        """Leave every network and drop the namespace; the container's record stays."""
        ctl, c = self.ctl, self.container
        if c.shares:  # container:NAME: only this name for NAME's namespace goes
            c.shares = ""
            ctl.kernel.delete_sandbox(c.netns, background=True)
            if os.path.ismount(ETC_NETNS):
                shutil.rmtree(os.path.join(ETC_NETNS, c.netns), ignore_errors=True)
            ctl.sandboxes.pop(c.id, None)
            return
        # sharers keep the namespace alive: the drivers take their links out one by one
        stays = any(other.shares == c.id for other in ctl.containers.sharing.values())
        for ep in self.endpoints():
            ep.leave(self, ctl.networks[ep.network_id], teardown=True, namespace_stays=stays)
        ctl.hooks.run(ctl.hooks.sandbox_removed, c)
        if c.network_mode != "host":
            ctl.builtin_services.stop(c.netns)
            ctl.kernel.delete_sandbox(c.netns, background=True)  # unmounts finish off the request path
        c.next_if = 0
        ctl.sandboxes.pop(c.id, None)

    # -- endpoints ------------------------------------------------------------------
    def endpoints(self) -> list[Endpoint]:
        return [self.ctl.endpoints[e] for e in self.container.endpoints]

    def endpoint_on(self, net: Network) -> Endpoint | None:
        return next((ep for ep in self.endpoints() if ep.network_id == net.id), None)

    def join(self, net: Network, ip: str | None = None, aliases: list[str] | None = None,
             from_connect: bool = False, mac: str | None = None) -> Endpoint:
        return endpoints.join(self, net, ip=ip, aliases=aliases, from_connect=from_connect, mac=mac)

    def add(self, ep: Endpoint) -> None:
        self.ctl.endpoints[ep.id] = ep
        self.container.endpoints.append(ep.id)

    def forget(self, ep: Endpoint) -> None:
        self.ctl.endpoints.pop(ep.id, None)
        with contextlib.suppress(ValueError):
            self.container.endpoints.remove(ep.id)

    def restore(self, saved: list[Endpoint | None]) -> None:
        """The endpoints of the last engine run, in join order; one whose network did not come
        back is dropped. Then the default route and the ports, once."""
        ctl = self.ctl
        for ep in saved:
            if ep is None:
                continue
            if ep.network_id not in ctl.networks:
                ctl.store.delete(ep)
                continue
            ep.rejoin(self, ctl.networks[ep.network_id])
        self.update_gateway()
        self.place_ports()

    # -- the default gateway (libnetwork's getGatewayEndpoint, updateGateway, setupDefaultGW) ---
    def gateway_endpoint(self) -> Endpoint | None:
        """The endpoint that gives the default route: Docker prefers non-internal, then any network
        before docker_gwbridge, then name order."""
        nets = self.ctl.networks
        candidates = [ep for ep in self.endpoints() if ep.gateway]
        if not candidates:
            return None
        return min(candidates, key=lambda e: (nets[e.network_id].internal, nets[e.network_id].name == GW_NETWORK,
                                              nets[e.network_id].name))

    def update_gateway(self) -> None:
        """Point the default route at the gateway endpoint (or remove it when there is none)."""
        if self.container.network_mode == "host":
            return
        ep = self.gateway_endpoint()
        self.ctl.kernel.set_default_route(self.container.netns, ep.gateway if ep else None,
                                          ep.ifname if ep else None)

    def needs_default_gw(self, ignore: Endpoint | None = None) -> bool:
        """Some endpoint wants a way out (not internal, not host/none) and none gives a gateway."""
        need = False
        for ep in self.endpoints():
            net = self.ctl.networks[ep.network_id]
            if (ep is ignore or net.name == GW_NETWORK or net.internal
                    or self.ctl.driver(net.driver).capabilities.network_mode):
                continue
            if ep.state.get("disable_gateway_service"):  # the driver said so in its Join reply
                continue
            if ep.gateway:
                return False
            need = True
        return need

    def sync_default_gw(self, ignore: Endpoint | None = None, from_connect: bool = False) -> None:
        """Join docker_gwbridge when the sandbox needs a default gateway, leave it when not."""
        c = self.container
        if c.network_mode == "host":
            return
        gw_net = self._gw_network()
        gw_ep = self.endpoint_on(gw_net) if gw_net else None
        need = self.needs_default_gw(ignore)
        if need and gw_ep is None:
            net = gw_net or self.ctl.new_network(GW_NETWORK, "bridge", host=c.host, options=dict(GW_OPTIONS))
            self.join(net, from_connect=from_connect)
        elif not need and gw_ep is not None:
            gw_ep.leave(self, gw_net, teardown=False)  # its published ports move on (place_ports)

    def _gw_network(self) -> Network | None:
        return next((n for n in self.ctl.networks.values()
                     if n.name == GW_NETWORK and n.host == self.container.host), None)

    # -- published ports (libnetwork's ProgramExternalConnectivity on the gateway endpoint) ------
    def port_endpoint(self) -> Endpoint | None:
        """The gateway endpoint carries `-p`: the first network's, docker_gwbridge for an overlay
        container, or any network that later takes the default route over."""
        if not self.container.endpoints:
            return None
        return self.gateway_endpoint() or self.ctl.endpoints[self.container.endpoints[0]]

    def place_ports(self, moving: bool = False) -> None:
        """Program the ports on the endpoint that should carry them, revoking them where they were."""
        c = self.container
        ep = self.port_endpoint() if c.ports else None
        if ep is not None and self.ports_on == ep.id:
            return
        self.unpublish_ports()
        if ep is None:
            return
        net = self.ctl.networks[ep.network_id]
        try:
            self.ctl.driver(net.driver).publish(net, ep, c, c.ports)
        except InvalidParameter:
            if not moving:
                raise
            c.ports = []  # the new gateway's driver publishes nothing (macvlan): as Docker, they go
            return
        self.ports_on = ep.id

    def unpublish_ports(self) -> None:
        ep_id, self.ports_on = self.ports_on, None
        ep = self.ctl.endpoints.get(ep_id) if ep_id else None
        if ep is not None:
            net = self.ctl.networks[ep.network_id]
            self.ctl.driver(net.driver).unpublish(net, ep, self.container, self.container.ports)

    def revoke_ports_if_on(self, ep: Endpoint) -> None:
        """Before `ep` goes: its ports are revoked there (place_ports puts them on the next gateway)."""
        if self.ports_on == ep.id:
            self.unpublish_ports()
