"""The controller: the one entry point to the lab's hosts, networks, endpoints and sandboxes.

As in libnetwork, the controller owns IPAM and the store and drives the network drivers
through the CNM lifecycle. Every change is a sequence of named steps; when a step fails the
steps already done are undone in reverse (an ExitStack), so no half-made kernel or store state
stays behind. The controller is not thread-safe: the engine calls it from one thread.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from . import gateway as gateway_policy
from . import ports as port_policy
from . import underlay
from .drivers import Driver, DriverContext, installed, load_class
from .endpoint import Endpoint
from .errors import CnmError, Conflict, Forbidden, InvalidParameter, NotFound
from .events import (ContainerCreated, ContainerRemoved, EndpointJoined, EndpointLeft, Event, HostAdded,
                     HostRemoved, LabReset, NetworkCreated, NetworkRemoved)
from .gateway import GW_NETWORK, GW_OPTIONS  # noqa: F401  (public names of the controller)
from .host import Host
from .ipam import Ipam, Pool, parse_address, parse_subnet
from .names import RESERVED_NAMESPACES, check_container_name, check_host_name, check_network_name, new_id
from .network import PREDEFINED, IpamConfig, Network
from .osl import netns
from .osl.netns import Namespaces
from .sandbox import Container, ContainerTable, PortBinding, parse_port
from .services import TestServices
from .store import Store

DEFAULT_HOST = "host1"
BRIDGE_DEFAULTS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.bridge.name": "docker0",
    "com.docker.network.driver.mtu": "1500",
}


@dataclass
class Hooks:
    """Features (embedded DNS, services, overlay control plane) extend the lifecycle here.

    Each list holds callables run on the kernel thread, in order. A join hook that raises makes
    the join fail and be rolled back; leave and sandbox-removed hooks must not raise.
    """

    sandbox_created: list[Callable] = field(default_factory=list)  # (container)
    sandbox_removed: list[Callable] = field(default_factory=list)  # (container)
    joined: list[Callable] = field(default_factory=list)  # (network, endpoint, container)
    left: list[Callable] = field(default_factory=list)  # (network, endpoint, container, teardown)
    removing_network: list[Callable] = field(default_factory=list)  # (network): raise a CnmError to refuse
    network_removed: list[Callable] = field(default_factory=list)  # (network)

    @staticmethod
    def run(hooks: list[Callable], *args) -> None:
        for hook in hooks:
            hook(*args)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


class Controller:
    def __init__(self, store: Store, ns: Namespaces | None = None, services: TestServices | None = None):
        self.store = store
        self.ns = ns or Namespaces()
        self.services = services or TestServices()
        self.hosts: dict[str, Host] = {}
        self.networks: dict[str, Network] = {}
        self.containers = ContainerTable()
        self.endpoints: dict[str, Endpoint] = {}
        self.ipam = Ipam(reserved=[underlay.SUBNET], name_of=self._network_name)
        self._drivers: dict[str, Driver] = {}
        self._ipam_plugins: dict = {}  # remote IPAM drivers by name (drivers/remote_ipam.py)
        self._host_setups: set[tuple[str, str]] = set()
        self._ports_on: dict[str, str] = {}  # container id -> endpoint id its ports are programmed on
        self._subscribers: list[Callable[[Event], None]] = []
        self.hooks = Hooks()
        self.ctx = DriverContext(ns=self.ns, host=self.host, hosts=lambda: list(self.hosts.values()), emit=self.emit)

    # -- events -----------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> None:
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[Event], None]) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(callback)

    def emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            callback(event)

    # -- the world --------------------------------------------------------------
    def start(self) -> None:
        """Build the world: restore it from the store, or make the default lab (one host)."""
        underlay.build_switch(self.ns)
        if self.store.load("host"):
            self.restore()
        else:
            self.add_host(DEFAULT_HOST)

    def close(self) -> None:
        self.services.close()
        self.ns.close()

    def reset(self) -> None:
        """Wipe the lab: every namespace goes (the kernel removes their links), then start afresh."""
        netns.reaper.settle()  # unmounts of removed containers still running: done before we start
        for container in list(self.containers.values()):
            self.services.stop(container.netns)
            if container.network_mode != "host":
                netns.delete_uts(container.netns)
                self.ns.delete(container.netns)
        for host in list(self.hosts.values()):
            self.services.stop(host.netns)
            underlay.unplug_host(self.ns, host)
        self.ns.delete(underlay.NAMESPACE)
        for table in (self.hosts, self.networks, self.containers, self.endpoints, self._host_setups,
                      self._ports_on):
            table.clear()
        for drv in self.loaded_drivers():  # drivers with lab-wide state (overlay namespaces) drop it
            if hasattr(drv, "reset"):
                drv.reset()
        self.ipam = Ipam(reserved=[underlay.SUBNET], name_of=self._network_name)
        self.store.clear()
        self.emit(LabReset())
        self.start()

    # -- drivers ----------------------------------------------------------------
    def driver(self, name: str) -> Driver:
        drv = self._drivers.get(name)
        if drv is None:
            drv = self._drivers[name] = load_class(name)(self.ctx)
            for host in self.docker_hosts():
                self._setup_host(drv, host)
        return drv

    def loaded_drivers(self) -> list[Driver]:
        return list(self._drivers.values())

    def ipam_plugin(self, name: str):
        """A remote IPAM driver found in the lab world (docs/ipam.md), activated once."""
        ipam = self._ipam_plugins.get(name)
        if ipam is None:
            from .drivers.remote_ipam import RemoteIpam

            ipam = self._ipam_plugins[name] = RemoteIpam.activate(name, lambda: self.ipam, self.emit)
        return ipam

    @staticmethod
    def installed_drivers() -> dict[str, str]:
        return installed()

    # -- hosts ------------------------------------------------------------------
    def host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise NotFound(f"No such host: {name}") from None

    def docker_hosts(self) -> list[Host]:
        return [h for h in self.hosts.values() if not h.plain]

    def default_host(self) -> str:
        hosts = self.docker_hosts()
        if not hosts:
            raise NotFound("the lab has no Docker host: add one with `cnmlab host add NAME`")
        return DEFAULT_HOST if DEFAULT_HOST in self.hosts else hosts[0].name

    def add_host(self, name: str, address: str | None = None, plain: bool = False) -> Host:
        check_host_name(name)
        if name in self.hosts:
            raise Conflict(f"host with name {name} already exists")
        if any(c.name == name for c in self.containers.values()):
            raise Conflict(f"name {name} is taken by a container: hosts and containers share the namespace list")
        taken = [h.address for h in self.hosts.values()]
        if address:
            ip = parse_address(address)
            if ip not in underlay.SUBNET or ip in (underlay.ROUTER, underlay.SUBNET.broadcast_address):
                raise InvalidParameter(f"Invalid address {address}: the underlay LAN is {underlay.SUBNET} "
                                       f"and {underlay.ROUTER} is its router")
            if address in taken or self._underlay_address_in_use(address):
                raise Conflict(f"Address already in use: {address} on the underlay")
        host = Host(name=name, address=address or underlay.next_address(taken + self._underlay_addresses()),
                    plain=plain)
        with contextlib.ExitStack() as undo:
            self._build_host(host)
            undo.callback(self._unbuild_host, host)
            if not plain:
                for net_name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null")):
                    net = self._create_network(net_name, driver, host=name, predefined=True,
                                               options=dict(BRIDGE_DEFAULTS) if driver == "bridge" else {})
                    undo.callback(self._remove_network, net)
            self.store.put(host)
            undo.pop_all()
        self.emit(HostAdded(host=name, address=host.address))
        return host

    def remove_host(self, name: str) -> None:
        host = self.host(name)
        users = sorted(c.name for c in self.containers.values() if c.host == name)
        if users:
            raise Forbidden(f"host {name} has containers: {', '.join(users)}; remove them first")
        for net in [n for n in self.networks.values() if n.host == name]:
            self._remove_network(net)
        self._unbuild_host(host)
        self.store.delete(host)
        self.emit(HostRemoved(host=name))

    def _build_host(self, host: Host) -> None:
        underlay.plug_host(self.ns, host)
        self.hosts[host.name] = host
        if not host.plain:
            try:
                self.driver("bridge")
                for drv in self.loaded_drivers():
                    self._setup_host(drv, host)
            except BaseException:
                self._unbuild_host(host)
                raise

    def _setup_host(self, drv: Driver, host: Host) -> None:
        if (drv.name, host.name) not in self._host_setups:
            drv.setup_host(host)
            self._host_setups.add((drv.name, host.name))

    def _unbuild_host(self, host: Host) -> None:
        self.services.stop(host.netns)
        underlay.unplug_host(self.ns, host)
        self.hosts.pop(host.name, None)
        self._host_setups = {s for s in self._host_setups if s[1] != host.name}

    def _underlay_addresses(self) -> list[str]:
        """Addresses that other drivers (macvlan) hold on the underlay LAN."""
        out = []
        for ep in self.endpoints.values():
            net = self.networks.get(ep.network_id)
            if net and ep.ip and any(parse_subnet(c.subnet).subnet_of(underlay.SUBNET) for c in net.ipam):
                out.append(ep.ip)
        return out

    def _underlay_address_in_use(self, address: str) -> bool:
        return address in self._underlay_addresses()

    # -- networks ---------------------------------------------------------------
    def _network_name(self, network_id: str) -> str:
        net = self.networks.get(network_id)
        return net.name if net else network_id[:12]

    def network(self, ref: str, host: str | None = None) -> Network:
        """A network by name, full id or unique id prefix; predefined names are per host."""
        if ref in PREDEFINED or ref == GW_NETWORK:
            host = host or self.default_host()
            for net in self.networks.values():
                if (net.predefined or ref == GW_NETWORK) and net.name == ref and net.host == host:
                    return net
            raise NotFound(f"network {ref} not found on host {host}")
        for net in self.networks.values():
            if net.name == ref or net.id == ref:
                return net
        matches = [n for n in self.networks.values() if ref and n.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"network {ref} not found")

    def create_network(self, name: str, driver: str = "bridge", subnet: str | None = None,
                       gateway: str | None = None, ip_range: str | None = None,
                       aux_addresses: dict[str, str] | None = None, internal: bool = False,
                       attachable: bool = False, options: dict[str, str] | None = None,
                       labels: dict[str, str] | None = None, ipv6: bool = False, host: str | None = None,
                       ipam_driver: str = "default") -> Network:
        check_network_name(name)
        if any(n.name == name for n in self.networks.values()):
            raise Conflict(f"network with name {name} already exists")
        if ipv6:
            raise InvalidParameter("IPv6 networks are not supported in the lab (--ipv6): sandboxes keep IPv6 off")
        if (gateway or ip_range or aux_addresses) and not subnet:
            raise InvalidParameter("every ip-range, gateway or aux-address must have a corresponding subnet")
        return self._create_network(name, driver, subnet=subnet, gateway=gateway, ip_range=ip_range,
                                    aux_addresses=aux_addresses, internal=internal, attachable=attachable,
                                    options=options or {}, labels=labels or {}, host=host,
                                    ipam_driver=ipam_driver)

    def _create_network(self, name: str, driver: str, host: str | None = None, predefined: bool = False,
                        subnet: str | None = None, gateway: str | None = None, ip_range: str | None = None,
                        aux_addresses: dict[str, str] | None = None, internal: bool = False,
                        attachable: bool = False, options: dict | None = None, labels: dict | None = None,
                        ipam_driver: str = "default") -> Network:
        drv = self.driver(driver)
        caps = drv.capabilities
        if caps.scope == "global":
            host = None
        else:
            host = host or self.default_host()
            if self.host(host).plain:
                raise InvalidParameter(f"host {host} is a plain machine, not a Docker host")
        planner = self.ipam
        if ipam_driver == "null" and (subnet or gateway or ip_range or aux_addresses):
            raise InvalidParameter("the null IPAM driver hands out no addresses: drop --subnet/--gateway/--ip-range")
        if ipam_driver not in ("default", "null") and not hasattr(drv, "ipam_driver"):
            planner = self.ipam_plugin(ipam_driver)
        net = Network(id=new_id(), name=name, driver=drv.name, scope=caps.scope, created=now(), host=host,
                      internal=internal, attachable=attachable, options=dict(options or {}),
                      labels=dict(labels or {}), predefined=predefined, ipam_driver=ipam_driver)
        unknown = [k for k in net.options if drv.option_keys and k not in drv.option_keys]
        if unknown:
            raise InvalidParameter(f"unknown option {unknown[0]} for the {drv.name} driver "
                                   f"(known: {', '.join(drv.option_keys)})")
        drv.validate(net)
        pool = None
        try:
            if caps.needs_ipam and ipam_driver != "null":
                chosen = subnet or self._driver_default_subnet(drv, planner)
                pool = planner.plan(chosen, gateway, ip_range, aux_addresses,
                                      predefined_bridge=predefined and driver == "bridge",
                                      overlap_ok=self._overlap_ok(drv))
                net.ipam = [self._ipam_config(pool, subnet, gateway, ip_range, aux_addresses, predefined)]
                if not caps.has_gateway and not gateway:
                    net.ipam[0].gateway = None
        finally:
            self.store.set_meta("ipam.cursor", str(self.ipam.cursor))  # failed creates advance it too
        with contextlib.ExitStack() as undo:
            if hasattr(pool, "close"):
                undo.callback(pool.close)  # a remote IPAM pool goes back to its plugin
            drv.create_network(net)
            undo.callback(drv.delete_network, net)
            if pool is not None:
                self.ipam.take(net.id, pool)
            self.networks[net.id] = net
            self.store.put(net)
            undo.pop_all()
        self.emit(NetworkCreated(network=name, id=net.id, driver=net.driver))
        return net

    def _driver_default_subnet(self, drv: Driver, planner) -> str | None:
        """A driver may have its own default pools (Windows' nat: a 172.x /20); the first free one."""
        pools = getattr(drv, "default_pools", None)
        if pools is None or planner is not self.ipam:
            return None
        free = self.ipam.first_free(pools())
        return str(free) if free else None

    @staticmethod
    def _overlap_ok(drv: Driver) -> list[IPv4Network]:
        # A driver on the "physical" LAN (macvlan) takes addresses from the LAN's own subnet.
        return [underlay.SUBNET] if getattr(drv, "on_underlay", False) else []

    @staticmethod
    def _ipam_config(pool: Pool, subnet, gateway, ip_range, aux, predefined: bool) -> IpamConfig:
        return IpamConfig(subnet=subnet or str(pool.subnet),
                          gateway=str(pool.gateway) if pool.gateway else None,
                          ip_range=ip_range, aux_addresses=dict(aux or {}),
                          user_subnet=bool(subnet) or predefined, user_gateway=bool(gateway))

    def remove_network(self, ref: str) -> None:
        net = self.network(ref)
        if net.predefined:
            raise Forbidden(f"{net.name} is a pre-defined network and cannot be removed")
        self.hooks.run(self.hooks.removing_network, net)  # e.g. a service still uses it
        names = sorted(self.containers[e.container_id].name for e in self.endpoints.values()
                       if e.network_id == net.id)
        if names:
            raise Forbidden(f"error while removing network: network {net.name} id {net.id} has active "
                            f"endpoints ({', '.join(names)})")
        self._remove_network(net)

    def _remove_network(self, net: Network) -> None:
        self.hooks.run(self.hooks.network_removed, net)
        self.driver(net.driver).delete_network(net)
        pool = self.ipam.pools.get(net.id)
        self.ipam.release_pool(net.id)
        if hasattr(pool, "close"):
            pool.close()  # a remote IPAM pool goes back to its plugin
        self.networks.pop(net.id, None)
        self.store.delete(net)
        self.emit(NetworkRemoved(network=net.name, id=net.id))

    def prune_networks(self) -> list[str]:
        """Remove every unused user network; one a feature still claims is skipped, as Docker does."""
        used = {e.network_id for e in self.endpoints.values()}
        pruned = []
        for net in [n for n in self.networks.values() if not n.predefined and n.id not in used]:
            try:
                self.hooks.run(self.hooks.removing_network, net)
            except CnmError:
                continue
            self._remove_network(net)
            pruned.append(net.name)
        return pruned

    def network_endpoints(self, net: Network) -> list[Endpoint]:
        return [e for e in self.endpoints.values() if e.network_id == net.id]

    # -- containers -------------------------------------------------------------
    def container(self, ref: str) -> Container:
        found = self.containers.by_name.get(ref) or self.containers.get(ref)
        if found is not None:
            return found
        matches = [c for c in self.containers.values() if ref and c.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"No such container: {ref}")

    def create_container(self, name: str, network: str | list[str] | None = None, ip: str | None = None,
                         aliases: list[str] | None = None, ports: list[str | PortBinding] | None = None,
                         host: str | None = None, labels: dict[str, str] | None = None) -> Container:
        """`docker run`: make the sandbox, join its network, publish its ports."""
        check_container_name(name)
        existing = self.containers.by_name.get(name)
        if existing is not None:
            raise Conflict(f'Conflict. The container name "/{name}" is already in use by container '
                           f'"{existing.id}". You have to remove (or rename) that container to be able to reuse that name.')
        if name in self.hosts or name in RESERVED_NAMESPACES:
            raise Conflict(f"name {name} is taken by a host of the lab: hosts and containers share the namespace list")
        networks = [network] if isinstance(network, str) else list(network or [])
        if len(networks) > 1:
            raise InvalidParameter(f"Container cannot be connected to network endpoints: {', '.join(networks)}.")
        host = host or self.default_host()
        if self.host(host).plain:
            raise InvalidParameter(f"host {host} is a plain machine, not a Docker host")
        net = self.network(networks[0] if networks else "bridge", host)
        if not networks:
            ip = None  # `docker run --ip` without --network is silently ignored
        bindings = [p if isinstance(p, PortBinding) else parse_port(p) for p in ports or []]
        mode = {"host": "host", "null": "none"}.get(net.driver, net.name)
        if bindings and mode in ("host", "none"):
            raise InvalidParameter(f"ports cannot be published in {mode} network mode")
        self._check_ports_free(host, bindings)
        container = Container(id=new_id(), name=name, host=host, created=now(), network_mode=mode,
                              ports=bindings, labels=dict(labels or {}))
        with self.store.batch(), contextlib.ExitStack() as undo:  # one commit for the endpoint and the container
            self._build_sandbox(container)
            undo.callback(self._unbuild_sandbox, container)
            self._join(net, container, ip=ip, aliases=aliases or [], from_connect=False)
            self._publish(container)
            self.store.put(container)
            undo.pop_all()
        self.emit(ContainerCreated(container=name, id=container.id, host=host))
        return container

    def _check_ports_free(self, host: str, bindings: list[PortBinding]) -> None:
        port_policy.check_free(self, host, bindings)

    def _build_sandbox(self, container: Container) -> None:
        if container.network_mode != "host":
            self.ns.create(container.netns, handle=False)  # pyroute2's handle opens on first use
            try:
                netns.create_uts(container.netns, container.hostname)
            except BaseException:
                self.ns.delete(container.netns)
                raise
        self.containers[container.id] = container
        try:
            self.services.start(container.netns, container.name)
        except OSError:
            if container.network_mode != "host":
                self.containers.pop(container.id, None)
                netns.delete_uts(container.netns)
                self.ns.delete(container.netns)
                raise
            # host mode: the host's namespace serves its first host-mode container's services
        try:
            self.hooks.run(self.hooks.sandbox_created, container)
        except BaseException:
            self._unbuild_sandbox(container)
            raise

    def _unbuild_sandbox(self, container: Container) -> None:
        for ep_id in list(container.endpoints):
            ep = self.endpoints[ep_id]
            self._leave(self.networks[ep.network_id], container, ep, teardown=True)
        self.hooks.run(self.hooks.sandbox_removed, container)
        if container.network_mode != "host":
            self.services.stop(container.netns)
            netns.delete_uts(container.netns, background=True)  # the unmounts finish off the request's path
            self.ns.delete(container.netns, background=True)
        self.containers.pop(container.id, None)

    def remove_container(self, ref: str, force: bool = False) -> None:
        container = self.container(ref)
        with self.store.batch():
            self._unpublish(container)
            self._unbuild_sandbox(container)
            self.store.delete(container)
        self.emit(ContainerRemoved(container=container.name, id=container.id))

    def _port_endpoint(self, container: Container) -> tuple[Network, Endpoint] | None:
        return port_policy.port_endpoint(self, container)

    def _publish(self, container: Container) -> None:
        port_policy.place(self, container)

    def _unpublish(self, container: Container) -> None:
        port_policy.unpublish(self, container)

    # -- endpoints: connect and disconnect -------------------------------------
    def connect(self, network: str, container: str, ip: str | None = None, aliases: list[str] | None = None) -> Endpoint:
        c = self.container(container)
        net = self.network(network, c.host)
        return self._join(net, c, ip=ip, aliases=aliases or [], from_connect=True)

    def disconnect(self, network: str, container: str, force: bool = False) -> None:
        c = self.container(container)
        net = self.network(network, c.host)
        if c.network_mode in ("host", "none") or net.driver in ("host", "null"):
            raise Forbidden(f"container cannot be disconnected from {c.network_mode} network or connected to it")
        ep = self.endpoint_of(c, net)
        if ep is None:
            raise Forbidden(f"container {c.name} is not connected to network {net.name}")
        if c.endpoints and c.endpoints[0] == ep.id:
            self._unpublish(c)
            c.ports = []
        self._leave(net, c, ep, teardown=False)
        self.store.put(c)

    def endpoint_of(self, container: Container, net: Network) -> Endpoint | None:
        for ep_id in container.endpoints:
            if self.endpoints[ep_id].network_id == net.id:
                return self.endpoints[ep_id]
        return None

    def _join(self, net: Network, c: Container, ip: str | None, aliases: list[str], from_connect: bool) -> Endpoint:
        drv = self.driver(net.driver)
        if from_connect and (net.driver in ("host", "null") or c.network_mode in ("host", "none")):
            raise Forbidden(f"container cannot be connected to network {net.name}: it is in {c.network_mode} "
                            "network mode, which cannot be combined with other networks")
        if aliases and net.predefined:  # Docker's runconfig.ErrUnsupportedNetworkAndAlias
            raise InvalidParameter("network-scoped alias is supported only for containers in user defined networks")
        if self.endpoint_of(c, net) is not None:
            raise Conflict(f"endpoint with name {c.name} already exists in network {net.name}")
        if net.host is not None and net.host != c.host:
            raise InvalidParameter(f"network {net.name} is local to host {net.host}; container {c.name} is on {c.host}")
        ep = Endpoint(id=new_id(), network_id=net.id, container_id=c.id, aliases=list(aliases),
                      requested_ip=ip, from_connect=from_connect)
        with contextlib.ExitStack() as undo:
            if drv.capabilities.needs_ipam and net.id in self.ipam.pools:  # not with --ipam-driver null
                self._assign_address(net, ep, ip)
                undo.callback(self.ipam.pool(net.id).release, parse_address(ep.ip))
            if net.driver not in ("host", "null"):
                saved = c.next_if
                ep.ifname = c.take_ifname()
                undo.callback(setattr, c, "next_if", saved)
            drv.create_endpoint(net, ep)
            undo.callback(drv.delete_endpoint, net, ep)
            info = drv.join(net, ep, c)
            undo.callback(drv.leave, net, ep, c)
            if info.gateway is None:
                ep.gateway = None
            if info.disable_gateway_service:  # libnetwork: then no docker_gwbridge for this endpoint
                ep.state["disable_gateway_service"] = True
            self.endpoints[ep.id] = ep
            c.endpoints.append(ep.id)
            undo.callback(self._forget_endpoint, c, ep)
            self._refresh_gateway(c)
            undo.callback(self._refresh_gateway, c)
            self.hooks.run(self.hooks.joined, net, ep, c)
            undo.callback(self.hooks.run, self.hooks.left, net, ep, c, False)
            if net.name != GW_NETWORK:
                self._sync_default_gw(c, from_connect=from_connect)
                undo.callback(self._sync_default_gw, c, ep)
            if from_connect:  # a new gateway endpoint takes the published ports
                port_policy.place(self, c, moving=True)
            self.store.put(ep)
            if from_connect:
                self.store.put(c)
            undo.pop_all()
        self.emit(EndpointJoined(container=c.name, network=net.name, interface=ep.ifname, address=ep.address))
        return ep

    def _assign_address(self, net: Network, ep: Endpoint, ip: str | None) -> None:
        pool = self.ipam.pool(net.id)
        cfg = net.ipam[0]
        if ip:
            if net.predefined:
                raise InvalidParameter("user specified IP address is supported on user defined networks only")
            if not cfg.user_subnet:
                raise InvalidParameter("user specified IP address is supported only when connecting to networks "
                                       "with user configured subnets")
            addr = parse_address(ip)
            pool.claim(addr)
        else:
            addr = pool.allocate(f"{net.name} ({net.short_id})")
        ep.address = f"{addr}/{pool.subnet.prefixlen}"
        ep.gateway = cfg.gateway

    def _forget_endpoint(self, c: Container, ep: Endpoint) -> None:
        self.endpoints.pop(ep.id, None)
        with contextlib.suppress(ValueError):
            c.endpoints.remove(ep.id)

    def _leave(self, net: Network, c: Container, ep: Endpoint, teardown: bool) -> None:
        drv = self.driver(net.driver)
        port_policy.revoke_if_on(self, c, ep)
        self.hooks.run(self.hooks.left, net, ep, c, teardown)
        drv.leave(net, ep, c, teardown=teardown)
        drv.delete_endpoint(net, ep)
        if ep.ip and net.id in self.ipam.pools:
            self.ipam.pool(net.id).release(parse_address(ep.ip))
        self._forget_endpoint(c, ep)
        self.store.delete(ep)
        if not teardown:
            self._refresh_gateway(c)
            if net.name != GW_NETWORK:
                self._sync_default_gw(c)
            port_policy.place(self, c, moving=True)  # the ports follow the gateway endpoint
        self.emit(EndpointLeft(container=c.name, network=net.name, interface=ep.ifname))

    # -- default gateway and docker_gwbridge (gateway.py) ---------------------
    def gateway_endpoint(self, c: Container) -> Endpoint | None:
        return gateway_policy.gateway_endpoint(self, c)

    def _needs_default_gw(self, c: Container, ignore: Endpoint | None = None) -> bool:
        return gateway_policy.needs_default_gw(self, c, ignore)

    def _gw_network(self, host: str, create: bool) -> Network | None:
        return gateway_policy.gw_network(self, host, create)

    def _sync_default_gw(self, c: Container, ignore: Endpoint | None = None, from_connect: bool = False) -> None:
        gateway_policy.sync_default_gw(self, c, ignore, from_connect)

    def _refresh_gateway(self, c: Container) -> None:
        gateway_policy.refresh_default_route(self, c)

    # -- restore (restore.py) ---------------------------------------------------
    def restore(self) -> None:
        """Rebuild every host, network, container, address and port from the store."""
        from .restore import restore

        restore(self)
