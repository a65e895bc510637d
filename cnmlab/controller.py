"""The controller: the one entry point to the lab's hosts, networks, endpoints and sandboxes.

As libnetwork's controller.go, it keeps the registry (hosts, networks, containers, endpoints,
sandboxes, drivers, IPAM, the store) and the life cycle: it creates and removes hosts and
networks, starts and stops containers, and restores the lab from the store. The objects do
their own work: a `Sandbox` (sandbox.py) joins endpoints (endpoint.py), keeps the default route
and docker_gwbridge and places the published ports. Every change is a sequence of named steps;
when a step fails the steps already done are undone in reverse (an ExitStack), so no half-made
kernel or store state stays behind. The controller is not thread-safe: the engine calls it from
one thread.
"""

from __future__ import annotations

import contextlib
import signal
import tempfile
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from . import container as lifecycle
from . import ports, underlay
from .clock import now
from .drivers import Driver, DriverContext, installed, load_class
from .endpoint import Endpoint
from .errors import CnmError, Conflict, Forbidden, InvalidParameter, NotFound
from .events import (ContainerCreated, ContainerDied, ContainerRemoved, ContainerRestarted, ContainerStarted, Event,
                     HostAdded, HostRemoved, LabReset, LabRestored, NetworkCreated, NetworkRemoved, StepDone)
from .hooks import Hooks
from .host import Host
from .ipam import Ipam, Pool, check_subnet, parse_address, parse_subnet
from .kernel import Kernel
from .names import (RESERVED_NAMESPACES, check_container_name, check_host_name, check_network_name,
                    check_plugin_name, new_id, random_name)
from .network import GW_NETWORK, GW_OPTIONS, PREDEFINED, IpamConfig, Network  # noqa: F401  (GW_*: public names)
from .osl.netns import Namespaces
from .sandbox import SHARED_PREFIX, Container, ContainerTable, EndpointConfig, PortBinding, Sandbox, State, parse_port
from .builtin_services import BuiltinServices
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
PREDEFINED_NETWORKS = (("bridge", "bridge", BRIDGE_DEFAULTS), ("host", "host", {}), ("none", "null", {}))


class Controller:
    def __init__(self, store: Store, ns: Namespaces | None = None, builtin_services: BuiltinServices | None = None,
                 kernel: Kernel | None = None, driver_class: Callable[[str], type[Driver]] = load_class):
        self.store = store
        self.kernel = kernel or Kernel(ns)  # a unit test passes a stand-in: no root, no namespaces
        self.ns = self.kernel.ns
        self._driver_class = driver_class  # entry points, then remote plugins (drivers/__init__.py)
        self.builtin_services = builtin_services or BuiltinServices()  # HTTP and echo in every sandbox
        self.hosts: dict[str, Host] = {}
        self.networks: dict[str, Network] = {}
        self.containers = ContainerTable()
        self.endpoints: dict[str, Endpoint] = {}
        self.sandboxes: dict[str, Sandbox] = {}  # container id -> its network stack, while it runs
        self.ipam = Ipam(reserved=[underlay.SUBNET], name_of=self._network_name)
        self._drivers: dict[str, Driver] = {}
        self._ipam_plugins: dict = {}  # remote IPAM drivers by name (drivers/remote_ipam.py)
        self._host_setups: set[tuple[str, str]] = set()
        self._subscribers: list[Callable[[Event], None]] = []
        self.hooks = Hooks()
        self._runtimes: dict[str, lifecycle.Runtime] = {}  # container id -> main process, log, attached clients
        base = Path(store.path).parent if store.path != ":memory:" else Path(tempfile.mkdtemp(prefix="cnmlab-"))
        self.containers_dir = str(base / "containers")  # logs, as /var/lib/docker/containers/ID
        self.submit = _run_here  # the engine sets its kernel thread's submit: work for the one thread
        self.ctx = DriverContext(ns=self.ns, host=self.host, hosts=lambda: list(self.hosts.values()), emit=self.emit)

    # -- events -----------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> None:
        self._subscribers.append(callback)

    def emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            callback(event)

    # -- the world --------------------------------------------------------------
    def start(self) -> None:
        """Build the world: restore it from the store, or make the default lab (one host)."""
        self.kernel.build_switch()
        if self.store.load("host"):
            self.restore()
        else:
            self.add_host(DEFAULT_HOST)

    def close(self) -> None:
        """The engine stops: main processes end with it; running containers start again with the next."""
        for rt in list(self._runtimes.values()):  # HTTP threads may add one meanwhile (runtime())
            if rt.process is not None:
                rt.process.on_exit = lambda code: None
                rt.process.signal(signal.SIGKILL)
        self.builtin_services.close()
        self.kernel.close()

    def reset(self) -> None:
        """Wipe the lab: every namespace goes (the kernel removes their links), then start afresh."""
        self.kernel.settle()  # unmounts of removed containers still running: done before we start
        for rt in list(self._runtimes.values()):  # HTTP threads may add one meanwhile (runtime())
            if rt.process is not None:
                rt.process.on_exit = lambda code: None
                rt.process.signal(signal.SIGKILL)
            rt.output.publish(None)
            rt.log.remove()
            rt.notify(removed=True)
        self._runtimes.clear()
        for container in list(self.containers.values()):
            if not container.running:
                continue
            self.builtin_services.stop(container.netns)
            if container.network_mode != "host":
                self.kernel.delete_sandbox(container.netns)
        for host in list(self.hosts.values()):
            self.builtin_services.stop(host.netns)
            self.kernel.unplug_host(host)
        self.kernel.drop_switch()
        for table in (self.hosts, self.networks, self.containers, self.endpoints, self._host_setups,
                      self.sandboxes):
            table.clear()
        for drv in self.loaded_drivers():  # drivers with lab-wide state (overlay namespaces) drop it
            drv.reset()
        self.ipam = Ipam(reserved=[underlay.SUBNET], name_of=self._network_name)
        self.store.clear()
        self.emit(LabReset())
        self.start()

    # -- drivers ----------------------------------------------------------------
    def driver(self, name: str) -> Driver:
        drv = self._drivers.get(name)
        if drv is None:
            drv = self._drivers[name] = self._driver_class(name)(self.ctx)
            for host in self.docker_hosts():
                self._setup_host(drv, host)
        return drv

    def _network_mode(self, net: Network) -> str | None:
        """"host" or "none" when the network is a whole network mode (its driver says so)."""
        return self.driver(net.driver).capabilities.network_mode

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
                for net_name, driver, options in PREDEFINED_NETWORKS:  # every Docker host's own three
                    net = self.new_network(net_name, driver, host=name, predefined=True, options=dict(options))
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
        self.kernel.plug_host(host)
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
        self.builtin_services.stop(host.netns)
        self.kernel.unplug_host(host)
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
        check_plugin_name(driver)
        check_plugin_name(ipam_driver, "IPAM driver")
        if any(n.name == name for n in self.networks.values()):
            raise Conflict(f"network with name {name} already exists")
        if ipv6:
            raise InvalidParameter("IPv6 networks are not supported in the lab (--ipv6): sandboxes keep IPv6 off")
        if (gateway or ip_range or aux_addresses) and not subnet:
            raise InvalidParameter("every ip-range, gateway or aux-address must have a corresponding subnet")
        if subnet:
            check_subnet(subnet)
        if ip_range:
            check_subnet(ip_range, "ip-range")
        return self.new_network(name, driver, subnet=subnet, gateway=gateway, ip_range=ip_range,
                                    aux_addresses=aux_addresses, internal=internal, attachable=attachable,
                                    options=options or {}, labels=labels or {}, host=host,
                                    ipam_driver=ipam_driver)

    def new_network(self, name: str, driver: str, host: str | None = None, predefined: bool = False,
                    subnet: str | None = None, gateway: str | None = None, ip_range: str | None = None,
                    aux_addresses: dict[str, str] | None = None, internal: bool = False,
                    attachable: bool = False, options: dict | None = None, labels: dict | None = None,
                    ipam_driver: str = "default") -> Network:
        """libnetwork's NewNetwork once the user's input is checked (create_network), or for the
        networks the lab makes itself (predefined ones, docker_gwbridge)."""
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
        if ipam_driver not in ("default", "null") and drv.ipam_driver is None:
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
                # A driver on the "physical" LAN (macvlan) takes addresses from the LAN's own subnet.
                pool = planner.plan(chosen, gateway, ip_range, aux_addresses,
                                    predefined_bridge=predefined and name == "bridge",  # 172.17.0.0/16
                                    overlap_ok=[underlay.SUBNET] if drv.on_underlay else [])
                net.ipam = [IpamConfig.of(pool, subnet, gateway, ip_range, aux_addresses, predefined)]
                if not caps.has_gateway and not gateway:
                    net.ipam[0].gateway = None
        finally:
            self.store.set_meta("ipam.cursor", str(self.ipam.cursor))  # failed creates advance it too
        with contextlib.ExitStack() as undo:
            if pool is not None:  # taken first: other work goes on while a plugin driver creates
                undo.callback(pool.close)  # a remote IPAM pool goes back to its plugin
                self.ipam.take(net.id, pool)
                undo.callback(self.ipam.release_pool, net.id)
            drv.create_network(net)
            undo.callback(drv.delete_network, net)
            self.networks[net.id] = net
            self.store.put(net)
            undo.pop_all()
        self.emit(NetworkCreated(network=name, id=net.id, driver=net.driver))
        return net

    def _driver_default_subnet(self, drv: Driver, planner) -> str | None:
        """A driver may have its own default pools (Windows' nat: a 172.x /20); the first free one."""
        pools = drv.default_pools()
        if pools is None or planner is not self.ipam:
            return None
        free = self.ipam.first_free(pools)
        return str(free) if free else None

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
        if pool is not None:
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

    def create_container(self, name: str | None = None, network: str | list[str] | None = None,
                         ip: str | None = None, aliases: list[str] | None = None,
                         ports: list[str | PortBinding] | None = None, host: str | None = None,
                         labels: dict[str, str] | None = None, image: str = "", cmd: list[str] | None = None,
                         entrypoint: list[str] | None = None, env: list[str] | None = None,
                         hostname: str | None = None, tty: bool = False, open_stdin: bool = False,
                         stdin_once: bool = False, auto_remove: bool = False, mac: str | None = None,
                         endpoint_configs: dict[str, dict] | None = None,
                         restart_policy: tuple[str, int] | None = None, working_dir: str = "") -> Container:
        """`docker create`: record the container (state `created`); `start_container` builds it.

        `network` names every network to join, in order (Docker 25+ joins them all); `ip`,
        `aliases` and `mac` are for the first, `endpoint_configs` ({name: {"ip", "aliases", "mac"}})
        for any of them."""
        policy = lifecycle.check_restart_policy(restart_policy, auto_remove)
        if working_dir and not working_dir.startswith("/"):
            raise InvalidParameter(f"the working directory '{working_dir}' is invalid, it needs to be an absolute path")
        name = name or random_name({c.name for c in self.containers.values()})
        check_container_name(name)
        existing = self.containers.by_name.get(name)
        if existing is not None:
            raise Conflict(f'Conflict. The container name "/{name}" is already in use by container '
                           f'"{existing.id}". You have to remove (or rename) that container to be able to reuse that name.')
        if name in self.hosts or name in RESERVED_NAMESPACES:
            raise Conflict(f"name {name} is taken by a host of the lab: hosts and containers share the namespace list")
        names = [network] if isinstance(network, str) else list(dict.fromkeys(network or []))
        shared = bool(names) and names[0].startswith(SHARED_PREFIX)  # container:NAME: no networks of its own
        if shared:
            host = lifecycle.check_shared_create(self, names, host, ports, hostname, mac, ip, aliases,
                                                 endpoint_configs)
        host = host or self.default_host()
        if self.host(host).plain:
            raise InvalidParameter(f"host {host} is a plain machine, not a Docker host")
        nets = [] if shared else [self.network(n, host) for n in names] or [self.network("bridge", host)]
        if not names:
            ip = None  # `docker run --ip` without --network is silently ignored
        special = [n for n in nets if self._network_mode(n)]
        if special and len(nets) > 1:
            raise InvalidParameter(f"Container cannot be connected to network endpoints: {', '.join(names)}: "
                                   f"{special[0].name} network mode cannot be combined with other networks")
        bindings = [p if isinstance(p, PortBinding) else parse_port(p) for p in ports or []]
        mode = names[0] if shared else self._network_mode(nets[0]) or nets[0].name
        if bindings and mode in ("host", "none"):
            raise InvalidParameter(f"ports cannot be published in {mode} network mode")
        configs = endpoint_configs or {}
        wanted = []
        for i, net in enumerate(nets):
            cfg = configs.get(names[i] if names else net.name) or configs.get(net.name) or {}
            first = i == 0
            wanted.append(EndpointConfig(network=net.id, ip=cfg.get("ip") or (ip if first else None),
                                         aliases=list(cfg.get("aliases") or (aliases if first else None) or []),
                                         mac=cfg.get("mac") or (mac if first else None)))
        cid = new_id()
        container = Container(id=cid, name=name, host=host, created=now(), network_mode=mode, ports=bindings,
                              labels=dict(labels or {}), networks=wanted, image=image or "", cmd=cmd,
                              entrypoint=entrypoint, env=list(env or []), hostname=hostname or cid[:12],
                              tty=tty, open_stdin=open_stdin, stdin_once=stdin_once, auto_remove=auto_remove,
                              restart_policy=policy[0], restart_retries=policy[1], working_dir=working_dir,
                              state=State())
        self.containers[cid] = container
        self.store.put(container)
        self.emit(ContainerCreated(container=name, id=cid, host=host))
        return container

    def run_container(self, name: str | None = None, **kwargs) -> Container:
        """`docker run -d`: create and start, all or nothing (a failed start removes it again)."""
        c = self.create_container(name, **kwargs)
        try:
            self.start_container(c.id)
        except BaseException:
            if c.id in self.containers:
                self.remove_container(c.id, force=True)
            raise
        return c

    # -- the life cycle (container.py) ------------------------------------------
    def runtime(self, cid: str) -> lifecycle.Runtime:
        rt = self._runtimes.get(cid)
        if rt is None:
            rt = self._runtimes[cid] = lifecycle.Runtime(lifecycle.log_path(self, cid))
        return rt

    def start_container(self, ref: str, by_policy: bool = False) -> bool:
        """Build the sandbox (or join NAME's, `container:NAME`), join the networks, publish the
        ports, start the main process. Kernel thread. False when it was running already (Docker
        answers 304); `by_policy`: the restart policy starts it."""
        c = self.container(ref)
        if c.running or (c.state.status == "restarting" and not by_policy):
            return False
        try:
            return self._start(c, by_policy)
        except BaseException:
            if c.auto_remove and c.id in self.containers:  # as dockerd: a failed start removes an AutoRemove one
                self.remove_container(c.id, force=True)
            raise

    def _start(self, c: Container, by_policy: bool) -> bool:
        lifecycle.check_startable(self, c)
        rt = self.runtime(c.id)
        with self.store.batch(), contextlib.ExitStack() as undo:  # one commit for the endpoints and the container
            ports.check_free(self.containers.values(), c.host, c.ports, besides=c)
            sb = Sandbox(self, c)
            if c.shared_with is not None:
                sb.share(lifecycle.networked_container(self, c))
            else:
                sb.build(services=lifecycle.main_argv(c) is None)
            undo.callback(sb.delete)
            for cfg in c.networks:
                sb.join(self.networks[cfg.network], ip=cfg.ip, aliases=cfg.aliases, from_connect=cfg.from_connect,
                        mac=cfg.mac)
            sb.place_ports()
            lifecycle.spawn_main(self, c, rt)
            if not by_policy:  # a start by hand wakes the policy again
                c.manually_stopped, c.restart_count = False, 0
            c.state.status = "running"
            c.state.started_at = now()
            c.state.exit_code = 0
            self.store.put(c)
            undo.pop_all()
        self.emit(ContainerStarted(container=c.name, id=c.id, pid=c.state.pid))
        return True

    def main_exited(self, cid: str, proc, code: int) -> None:
        """The main process `proc` ended with `code` (kernel thread): release what the container held."""
        c = self.containers.get(cid)
        rt = self._runtimes.get(cid)
        if c is None or rt is None or not c.running or rt.process is not proc:
            return  # an old process of a container that has started again since, or is gone
        sb = self.sandboxes[cid]
        sb.unpublish_ports()
        sb.delete()
        rt.process = None
        c.state.status, c.state.exit_code, c.state.pid, c.state.finished_at = "exited", code, 0, now()
        if lifecycle.restarts(c, code):
            lifecycle.schedule_restart(self, c, rt)
        self.store.put(c)
        rt.output.publish(None)  # attached clients' streams end with the container
        self.emit(ContainerDied(container=c.name, id=c.id, exit_code=code))
        rt.notify(exited=True)
        if c.auto_remove:
            self.remove_container(c.id, force=True)

    def stop_container(self, ref: str, timeout: float | None = None) -> bool:
        """SIGTERM, then SIGKILL after `timeout` s (default 10). Blocks: call it off the kernel
        thread. False when it was not running (Docker answers 304)."""
        return lifecycle.stop(self, self.container(ref), timeout)

    def kill_container(self, ref: str, signal: str | int | None = "SIGKILL") -> None:
        """Send a signal to the main process (kernel thread)."""
        lifecycle.kill(self, self.container(ref), signal)

    def restart_container(self, ref: str, timeout: float | None = None) -> None:
        """Stop (if running), then start again. Blocks: call it off the kernel thread."""
        c = self.container(ref)
        lifecycle.stop(self, c, timeout)
        self.submit(self.start_container, c.id, holds=c.holds()).result()
        self.emit(ContainerRestarted(container=c.name, id=c.id))

    def wait_container(self, ref: str, condition: str = "not-running", timeout: float | None = None,
                       ready: Callable[[], None] | None = None) -> int:
        """Block until the container is not running (or its next exit, or its removal); return
        its exit code. `ready()` is called once the waiter counts (answer the HTTP head then).
        Call it off the kernel thread."""
        return lifecycle.wait(self, self.container(ref), condition, timeout, ready)

    def remove_container(self, ref: str, force: bool = False) -> None:
        container = self.container(ref)
        if container.state.status == "restarting" and not force:
            raise Conflict(f"You cannot remove a restarting container {container.id}. Stop the container before "
                           "attempting removal or force remove")
        if container.running and not force:
            raise Conflict(f"You cannot remove a running container {container.id}. Stop the container before "
                           "attempting removal or force remove")
        rt = self._runtimes.pop(container.id, None)
        if rt is not None and rt.process is not None:
            rt.process.signal(signal.SIGKILL)  # its exit finds the container gone and changes nothing
        with self.store.batch():  # one commit for the endpoints and the container
            sb = self.sandboxes.get(container.id)
            if sb is not None:
                sb.unpublish_ports()
                sb.delete()
            self.containers.pop(container.id, None)
            self.store.delete(container)
        if rt is not None:
            rt.output.publish(None)
            rt.log.remove()
            rt.notify(removed=True)
        self.emit(ContainerRemoved(container=container.name, id=container.id))

    # -- endpoints: connect and disconnect -------------------------------------
    def connect(self, network: str, container: str, ip: str | None = None, aliases: list[str] | None = None,
                mac: str | None = None) -> Endpoint | None:
        """Join a running container now; a created or exited one joins at its next start (None)."""
        c = self.container(container)
        if c.shared_with is not None:
            raise InvalidParameter(lifecycle.SHARED_CONFLICT)
        net = self.network(network, c.host)
        if any(cfg.network == net.id for cfg in c.networks):
            raise Conflict(f"endpoint with name {c.name} already exists in network {net.name}")
        cfg = EndpointConfig(network=net.id, ip=ip, aliases=list(aliases or []), from_connect=True, mac=mac)
        if not c.running:
            if self._network_mode(net) or c.network_mode in ("host", "none"):
                raise Forbidden(f"container cannot be connected to network {net.name}: it is in {c.network_mode} "
                                "network mode, which cannot be combined with other networks")
            if net.host is not None and net.host != c.host:
                raise InvalidParameter(f"network {net.name} is local to host {net.host}; container {c.name} is on {c.host}")
            c.networks.append(cfg)
            self.store.put(c)
            return None
        ep = self.sandboxes[c.id].join(net, ip=ip, aliases=aliases, from_connect=True, mac=mac)
        c.networks.append(cfg)
        self.store.put(c)
        return ep

    def disconnect(self, network: str, container: str, force: bool = False) -> None:
        c = self.container(container)
        net = self.network(network, c.host)
        if c.network_mode in ("host", "none") or self._network_mode(net):
            raise Forbidden(f"container cannot be disconnected from {c.network_mode} network or connected to it")
        if not c.running:
            kept = [cfg for cfg in c.networks if cfg.network != net.id]
            if len(kept) == len(c.networks):
                raise Forbidden(f"container {c.id} is not connected to network {net.name}")
            c.networks = kept
            self.store.put(c)
            return
        c.networks = [cfg for cfg in c.networks if cfg.network != net.id]
        sb = self.sandboxes[c.id]
        ep = sb.endpoint_on(net)
        if ep is None:
            raise Forbidden(f"container {c.name} is not connected to network {net.name}")
        if c.endpoints and c.endpoints[0] == ep.id:
            sb.unpublish_ports()
            c.ports = []
        ep.leave(sb, net, teardown=False)
        self.store.put(c)

    def gateway_endpoint(self, c: Container) -> Endpoint | None:
        """The endpoint giving a running container its default route (sandbox.py)."""
        sb = self.sandboxes.get(c.id)
        return sb.gateway_endpoint() if sb else None

    # -- restore --------------------------------------------------------------------
    def restore(self) -> None:
        """Rebuild the lab from the store when the engine starts again: hosts, then networks with
        their IPAM pools, then every container with its endpoints in join order, its default
        route and its published ports."""
        self.ipam.cursor = int(self.store.get_meta("ipam.cursor", "0") or 0)
        hosts = self.store.load("host")
        for host in hosts:
            self._build_host(host)
        networks = self.store.load("network")
        for net in networks:
            self._restore_network(net)
        endpoints = {e.id: e for e in self.store.load("endpoint")}
        containers = self.store.load("container")
        for c in containers:
            self._restore_container(c, endpoints)
        self.emit(LabRestored(hosts=len(hosts), networks=len(networks), containers=len(containers)))

    def _restore_network(self, net: Network) -> None:
        """A network whose remote driver or IPAM plugin ran in the old lab world cannot come back:
        it is dropped, with a step event saying why."""
        try:
            drv = self.driver(net.driver)
            if net.ipam_driver not in ("default", "null"):
                raise NotFound(f"its IPAM plugin {net.ipam_driver} ran in the old lab world")
        except CnmError as exc:
            self.store.delete(net)
            self.emit(StepDone(where="lab", step=f"network {net.name} not restored: {exc.message}"))
            return
        if net.ipam and drv.capabilities.needs_ipam:
            self.ipam.take(net.id, Pool.of(net.ipam[0]))
        drv.create_network(net)
        self.networks[net.id] = net

    def _restore_container(self, c: Container, endpoints: dict[str, Endpoint]) -> None:
        """A running container comes back with its addresses and a new main process; a created or
        exited one is only its record again (its log stays)."""
        if not c.networks:  # a record from before containers kept their networks: its endpoints say
            c.networks = [EndpointConfig(network=ep.network_id, ip=ep.requested_ip, aliases=list(ep.aliases),
                                         from_connect=ep.from_connect)
                          for ep in (endpoints[e] for e in c.endpoints if e in endpoints)
                          if getattr(self.networks.get(ep.network_id), "name", None) != GW_NETWORK]
        self.containers[c.id] = c
        if not c.running:
            lifecycle.restore_policy(self, c)  # e.g. `always`: started again once the lab is back
            return
        sb = Sandbox(self, c)
        if c.shared_with is not None:  # NAME was made first, so it is back already
            c.shares = ""
            try:
                sb.share(lifecycle.networked_container(self, c))
            except CnmError as exc:
                lifecycle.stays_exited(self, c, exc)
                return
        else:
            sb.build(services=lifecycle.main_argv(c) is None)
            order, c.endpoints = c.endpoints, []
            sb.restore([endpoints.get(e) for e in order])
        try:
            lifecycle.spawn_main(self, c, self.runtime(c.id))
            c.state.started_at = now()
        except CnmError as exc:  # its command is gone from the machine: it stays, exited
            self.emit(StepDone(where=c.name, step=f"container {c.name} not restarted: {exc.message}"))
            self.submit(self.main_exited, c.id, None, 127, holds=c.holds())
        self.store.put(c)


def _run_here(fn, *args, holds=None, **kwargs) -> Future:
    """Without an engine the caller's thread is the kernel thread: run the work now (nothing to hold)."""
    done: Future = Future()
    try:
        done.set_result(fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
        done.set_exception(exc)
    return done
