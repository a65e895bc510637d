"""The controller: the one entry point to the lab's hosts, networks, endpoints and sandboxes.

As libnetwork's controller.go, it keeps the registry (hosts, networks, containers, endpoints,
sandboxes, drivers, IPAM, the store) and the life cycle: it creates and removes hosts and
networks, starts and stops containers, and restores the lab from the store. It checks what is
asked; the objects do their own work (a container's life cycle is container.py's): a `Host` (host.py) plugs itself into the LAN and makes its
predefined networks, a `Network` (network.py) plans its pool and has its driver make it, a
`Sandbox` (sandbox.py) joins endpoints (endpoint.py), keeps the default route and
docker_gwbridge and places the published ports. Every change is a sequence of named steps;
when a step fails the steps already done are undone in reverse (an ExitStack), so no half-made
kernel or store state stays behind. The controller is not thread-safe: the engine calls it from
one thread.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from . import container as lifecycle
from . import underlay
from .drivers import Driver, DriverContext, load_class
from .endpoint import Endpoint
from .errors import InvalidParameter, NotFound
from .events import Event, LabReset, LabRestored
from .hooks import Hooks
from .host import Host
from .ipam import Ipam
from .kernel import Kernel
from . import network
from .network import GW_NETWORK, GW_OPTIONS, PREDEFINED, Network  # noqa: F401  (GW_*: public names)
from .osl.netns import Namespaces
from .sandbox import Container, ContainerTable, Sandbox
from .builtin_services import BuiltinServices, open_sockets
from .store import Store

DEFAULT_HOST = "host1"


class Controller:
    def __init__(self, store: Store, ns: Namespaces | None = None, builtin_services: BuiltinServices | None = None,
                 kernel: Kernel | None = None, driver_class: Callable[[str], type[Driver]] = load_class):
        self.store = store
        # a unit test passes a stand-in: no root, no namespaces. A spare namespace comes with the
        # test services' sockets open (osl/spares.py).
        self.kernel = kernel or Kernel(ns, in_spares=open_sockets)
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
        self._subscribers: list[tuple[Callable[[Event], None], tuple[type[Event], ...]]] = []
        self._routes: dict[type[Event], list[Callable[[Event], None]]] = {}  # event class -> its subscribers
        self.hooks = Hooks()
        self.runtimes: dict[str, lifecycle.Runtime] = {}  # container id -> main process, log, attached clients
        self._containers_dir = None if store.path == ":memory:" else str(Path(store.path).parent / "containers")
        self._scratch: str | None = None  # an in-memory store's logs: a temporary directory, made on first use
        self.submit = _run_here  # the engine sets its kernel thread's submit: work for the one thread
        self.ctx = DriverContext(ns=self.ns, host=self.host, hosts=lambda: list(self.hosts.values()), emit=self.emit)

    @property
    def containers_dir(self) -> str:
        """Where containers' logs go, as /var/lib/docker/containers/ID."""
        if self._containers_dir is None:
            self._scratch = tempfile.mkdtemp(prefix="cnmlab-")
            self._containers_dir = str(Path(self._scratch) / "containers")
        return self._containers_dir

    # -- events -----------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None], *kinds: type[Event]) -> None:
        """Call `callback` with every event of the given classes (none given: every event). A
        container makes ~7 events: each goes only to those who asked for its class."""
        self._subscribers.append((callback, kinds))
        self._routes = {}

    def emit(self, event: Event) -> None:
        kind = type(event)
        callbacks = self._routes.get(kind)
        if callbacks is None:
            callbacks = self._routes[kind] = [cb for cb, kinds in self._subscribers
                                              if not kinds or issubclass(kind, kinds)]
        for callback in callbacks:
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
        for rt in list(self.runtimes.values()):  # HTTP threads may add one meanwhile (runtime())
            rt.drop_process()
        self.builtin_services.close()
        self.kernel.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def reset(self) -> None:
        """Wipe the lab: every namespace goes (the kernel removes their links), then start afresh."""
        self.kernel.settle()  # unmounts of removed containers still running: done before we start
        lifecycle.drop_all(self)
        for host in list(self.hosts.values()):
            host.unplug(self)
        self.kernel.drop_switch()
        for table in (self.networks, self.containers, self.endpoints, self.sandboxes):
            table.clear()
        for drv in self.loaded_drivers():  # drivers with lab-wide state (overlay namespaces) drop it
            drv.reset()
        # and load again on demand, as a fresh engine does: a driver loaded before the reset would
        # otherwise set up every new host (its chains) where a restored engine would not
        self._drivers.clear()
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
                host.set_up(drv)
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

    def docker_host(self, name: str | None = None) -> Host:
        """A host that runs Docker (the default one when no name is given), not a plain machine."""
        host = self.host(name or self.default_host())
        if host.plain:
            raise InvalidParameter(f"host {host.name} is a plain machine, not a Docker host")
        return host

    def add_host(self, name: str, address: str | None = None, plain: bool = False) -> Host:
        return Host.add(self, name, address, plain)

    def remove_host(self, name: str) -> None:
        self.host(name).remove(self)

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

    def create_network(self, name: str, **request) -> Network:
        """`docker network create`: the user's input checked, then made (network.py names what it takes)."""
        return network.create(self, name, **request)

    def new_network(self, name: str, driver: str, **request) -> Network:
        """libnetwork's NewNetwork, for checked input or the lab's own networks (predefined, docker_gwbridge)."""
        return network.new(self, name, driver, **request)

    def remove_network(self, ref: str) -> None:
        self.network(ref).remove(self)

    def prune_networks(self) -> list[str]:
        return network.prune(self)

    def network_endpoints(self, net: Network) -> list[Endpoint]:
        return [e for e in self.endpoints.values() if e.network_id == net.id]

    # -- containers: the life cycle is container.py's -------------------------------
    def container(self, ref: str) -> Container:
        found = self.containers.by_name.get(ref) or self.containers.get(ref)
        if found is not None:
            return found
        matches = [c for c in self.containers.values() if ref and c.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"No such container: {ref}")

    def runtime(self, cid: str) -> lifecycle.Runtime:
        rt = self.runtimes.get(cid)
        if rt is None:
            rt = self.runtimes[cid] = lifecycle.Runtime(lifecycle.log_path(self, cid))
        return rt

    def drop_runtime(self, cid: str) -> lifecycle.Runtime | None:
        return self.runtimes.pop(cid, None)

    def create_container(self, name: str | None = None, **request) -> Container:
        """`docker create`: record the container (`container.create` names what it takes)."""
        return lifecycle.create(self, name, **request)

    def run_container(self, name: str | None = None, **request) -> Container:
        """`docker run -d`: create and start, all or nothing."""
        return lifecycle.run(self, name, **request)

    def start_container(self, ref: str, by_policy: bool = False) -> bool:
        """Build and start it (kernel thread); False when it was running already (Docker's 304)."""
        return lifecycle.start(self, self.container(ref), by_policy)

    def main_exited(self, cid: str, proc, code: int) -> None:
        """The main process `proc` ended with `code` (kernel thread): release what the container held."""
        lifecycle.main_exited(self, cid, proc, code)

    def stop_container(self, ref: str, timeout: float | None = None) -> bool:
        """SIGTERM, then SIGKILL after `timeout` s (off the kernel thread); False when not running (304)."""
        return lifecycle.stop(self, self.container(ref), timeout)

    def kill_container(self, ref: str, signal: str | int | None = "SIGKILL") -> None:
        """Send a signal to the main process (kernel thread)."""
        lifecycle.kill(self, self.container(ref), signal)

    def restart_container(self, ref: str, timeout: float | None = None) -> None:
        """Stop (if running), then start again. Blocks: call it off the kernel thread."""
        lifecycle.restart_by_hand(self, self.container(ref), timeout)

    def wait_container(self, ref: str, condition: str = "not-running", timeout: float | None = None,
                       ready: Callable[[], None] | None = None) -> int:
        """Block until `condition` (off the kernel thread); its exit code. `ready()`: the waiter counts."""
        return lifecycle.wait(self, self.container(ref), condition, timeout, ready)

    def remove_container(self, ref: str, force: bool = False) -> None:
        lifecycle.remove(self, self.container(ref), force)

    def connect(self, network: str, container: str, ip: str | None = None, aliases: list[str] | None = None,
                mac: str | None = None) -> Endpoint | None:
        """Join a running container now; a created or exited one joins at its next start (None)."""
        return lifecycle.connect(self, self.container(container), network, ip=ip, aliases=aliases, mac=mac)

    def disconnect(self, network: str, container: str, force: bool = False) -> None:
        lifecycle.disconnect(self, self.container(container), network)

    # -- restore --------------------------------------------------------------------
    def restore(self) -> None:
        """Rebuild the lab from the store when the engine starts again: hosts, then networks with
        their IPAM pools, then every container with its endpoints in join order, its default
        route and its published ports."""
        self.ipam.cursor = int(self.store.get_meta("ipam.cursor", "0") or 0)
        hosts = self.store.load("host")
        for host in hosts:
            host.plug(self)
        networks = self.store.load("network")
        for net in networks:
            net.restore(self)
        endpoints = {e.id: e for e in self.store.load("endpoint")}
        containers = self.store.load("container")
        for c in containers:
            lifecycle.restore(self, c, endpoints)
        self.emit(LabRestored(hosts=len(hosts), networks=len(networks), containers=len(containers)))


def _run_here(fn, *args, holds=None, **kwargs) -> Future:
    """Without an engine the caller's thread is the kernel thread: run the work now (nothing to hold)."""
    done: Future = Future()
    try:
        done.set_result(fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
        done.set_exception(exc)
    return done
