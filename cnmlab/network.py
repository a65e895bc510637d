"""A CNM network: a group of endpoints that can talk to each other directly.

As libnetwork's network.go, the network does its own work: `create` checks a user's request and
`new` (libnetwork's NewNetwork) makes it; the network plans its address pool (`allocate_pool`,
libnetwork's ipamAllocate), has its driver make it and takes the pool (`Network.create`, all or
nothing), comes back with the engine (`restore`), refuses to go while in use (`remove`) and at its
end gives all of that back (`delete`). The controller keeps the networks by id.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .clock import now
from .errors import CnmError, Conflict, Forbidden, InvalidParameter, NotFound
from .events import NetworkCreated, NetworkRemoved, StepDone
from .ipam import Pool, check_subnet
from .names import check_network_name, check_plugin_name, new_id

if TYPE_CHECKING:
    from .controller import Controller
    from .drivers import Driver
    from .drivers.remote_ipam import RemoteIpam
    from .ipam import Ipam

PREDEFINED = ("bridge", "host", "none")
# Every Docker host's own three networks, made when the host is added (host.py): name, driver,
# options. The default bridge's options are the ones `docker network inspect bridge` shows.
BRIDGE_DEFAULTS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.bridge.name": "docker0",
    "com.docker.network.driver.mtu": "1500",
}
PREDEFINED_NETWORKS = (("bridge", "bridge", BRIDGE_DEFAULTS), ("host", "host", {}), ("none", "null", {}))
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

    @staticmethod
    def check(subnet: str | None, gateway: str | None, ip_range: str | None, aux: dict[str, str] | None) -> None:
        """libnetwork's IpamConf.Validate: what `--subnet`, `--gateway`, `--ip-range` and
        `--aux-address` ask makes sense on its own (whether the lab has it free is IPAM's)."""
        if (gateway or ip_range or aux) and not subnet:
            raise InvalidParameter("every ip-range, gateway or aux-address must have a corresponding subnet")
        if subnet:
            check_subnet(subnet)
        if ip_range:
            check_subnet(ip_range, "ip-range")

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

    # -- the life cycle (libnetwork's network.go) ------------------------------------
    def check_options(self, drv: Driver) -> None:
        """Only the driver's own option keys (when it declares them), then the driver's own checks."""
        unknown = [k for k in self.options if drv.option_keys and k not in drv.option_keys]
        if unknown:
            raise InvalidParameter(f"unknown option {unknown[0]} for the {drv.name} driver "
                                   f"(known: {', '.join(drv.option_keys)})")
        drv.validate(self)

    def allocate_pool(self, ctl: Controller, drv: Driver, planner: Ipam | RemoteIpam, subnet: str | None,
                      gateway: str | None, ip_range: str | None, aux: dict[str, str] | None) -> Pool | None:
        """libnetwork's ipamAllocate: plan the pool (`--subnet`, the driver's own default pools or
        the lab's next free one) and record it as inspect shows it. `create` takes it. None for
        a driver without addresses or the null IPAM driver. `planner` is the lab's IPAM or a
        remote IPAM plugin."""
        caps = drv.capabilities
        if not caps.needs_ipam or self.ipam_driver == "null":
            return None
        try:
            chosen = subnet or _driver_default_subnet(drv, planner, ctl.ipam)
            # A driver on the "physical" LAN (macvlan) takes addresses from the LAN's own subnet,
            # which the lab's IPAM otherwise keeps for the hosts (its reserved ranges).
            pool = planner.plan(chosen, gateway, ip_range, aux,
                                predefined_bridge=self.predefined and self.name == "bridge",  # 172.17.0.0/16
                                overlap_ok=ctl.ipam.reserved if drv.on_underlay else [])
        finally:
            ctl.store.set_meta("ipam.cursor", str(ctl.ipam.cursor))  # failed creates advance it too
        self.ipam = [IpamConfig.of(pool, subnet, gateway, ip_range, aux, self.predefined)]
        if not caps.has_gateway and not gateway:
            self.ipam[0].gateway = None
        return pool

    def create(self, ctl: Controller, drv: Driver, pool: Pool | None) -> None:
        """The driver makes the network, IPAM takes its pool, the controller and the store keep
        it: all or nothing."""
        with contextlib.ExitStack() as undo:
            if pool is not None:  # taken first: other work goes on while a plugin driver creates
                undo.callback(pool.close)  # a remote IPAM pool goes back to its plugin
                ctl.ipam.take(self.id, pool)
                undo.callback(ctl.ipam.release_pool, self.id)
            drv.create_network(self)
            undo.callback(drv.delete_network, self)
            ctl.networks[self.id] = self
            ctl.store.put(self)
            undo.pop_all()
        ctl.emit(NetworkCreated(network=self.name, id=self.id, driver=self.driver))

    def restore(self, ctl: Controller) -> None:
        """When the engine starts again: its stored pool, made again by its driver. One whose
        remote driver or IPAM plugin ran in the old lab world cannot come back: it is dropped,
        with a step event saying why."""
        try:
            drv = ctl.driver(self.driver)
            if self.ipam_driver not in ("default", "null"):
                raise NotFound(f"its IPAM plugin {self.ipam_driver} ran in the old lab world")
        except CnmError as exc:
            ctl.store.delete(self)
            ctl.emit(StepDone(where="lab", step=f"network {self.name} not restored: {exc.message}"))
            return
        if self.ipam and drv.capabilities.needs_ipam:
            ctl.ipam.take(self.id, Pool.of(self.ipam[0]))
        drv.create_network(self)
        ctl.networks[self.id] = self

    def remove(self, ctl: Controller) -> None:
        """`docker network rm`: refused while it is predefined, claimed by a feature (a service's)
        or has endpoints; then deleted."""
        if self.predefined:
            raise Forbidden(f"{self.name} is a pre-defined network and cannot be removed")
        ctl.hooks.run(ctl.hooks.removing_network, self)
        names = sorted(ctl.containers[e.container_id].name for e in ctl.network_endpoints(self))
        if names:
            raise Forbidden(f"error while removing network: network {self.name} id {self.id} has active "
                            f"endpoints ({', '.join(names)})")
        self.delete(ctl)

    def delete(self, ctl: Controller) -> None:
        """libnetwork's network.delete, once nothing uses it (the controller checks): the features
        let go, the driver removes it, its pool goes back."""
        ctl.hooks.run(ctl.hooks.network_removed, self)
        ctl.driver(self.driver).delete_network(self)
        pool = ctl.ipam.pools.get(self.id)
        ctl.ipam.release_pool(self.id)
        if pool is not None:
            pool.close()  # a remote IPAM pool goes back to its plugin
        ctl.networks.pop(self.id, None)
        ctl.store.delete(self)
        ctl.emit(NetworkRemoved(network=self.name, id=self.id))


def create(ctl: Controller, name: str, driver: str = "bridge", subnet: str | None = None,
           gateway: str | None = None, ip_range: str | None = None, aux_addresses: dict[str, str] | None = None,
           internal: bool = False, attachable: bool = False, options: dict[str, str] | None = None,
           labels: dict[str, str] | None = None, ipv6: bool = False, host: str | None = None,
           ipam_driver: str = "default") -> Network:
    """`docker network create`: the user's input checked (names, IPv6, the IPAM request), then `new`."""
    check_network_name(name)
    check_plugin_name(driver)
    check_plugin_name(ipam_driver, "IPAM driver")
    if any(n.name == name for n in ctl.networks.values()):
        raise Conflict(f"network with name {name} already exists")
    if ipv6:
        raise InvalidParameter("IPv6 networks are not supported in the lab (--ipv6): sandboxes keep IPv6 off")
    IpamConfig.check(subnet, gateway, ip_range, aux_addresses)
    return new(ctl, name, driver, subnet=subnet, gateway=gateway, ip_range=ip_range, aux_addresses=aux_addresses,
               internal=internal, attachable=attachable, options=options or {}, labels=labels or {}, host=host,
               ipam_driver=ipam_driver)


def new(ctl: Controller, name: str, driver: str, host: str | None = None, predefined: bool = False,
        subnet: str | None = None, gateway: str | None = None, ip_range: str | None = None,
        aux_addresses: dict[str, str] | None = None, internal: bool = False, attachable: bool = False,
        options: dict | None = None, labels: dict | None = None, ipam_driver: str = "default") -> Network:
    """libnetwork's NewNetwork once the user's input is checked (`create`), or for the networks
    the lab makes itself (predefined ones, docker_gwbridge): the network plans its pool and
    makes itself."""
    drv = ctl.driver(driver)
    host = None if drv.capabilities.scope == "global" else ctl.docker_host(host).name
    if ipam_driver == "null" and (subnet or gateway or ip_range or aux_addresses):
        raise InvalidParameter("the null IPAM driver hands out no addresses: drop --subnet/--gateway/--ip-range")
    planner = ctl.ipam
    if ipam_driver not in ("default", "null") and drv.ipam_driver is None:
        planner = ctl.ipam_plugin(ipam_driver)
    net = Network(id=new_id(), name=name, driver=drv.name, scope=drv.capabilities.scope, created=now(),
                  host=host, internal=internal, attachable=attachable, options=dict(options or {}),
                  labels=dict(labels or {}), predefined=predefined, ipam_driver=ipam_driver)
    net.check_options(drv)
    pool = net.allocate_pool(ctl, drv, planner, subnet, gateway, ip_range, aux_addresses)
    net.create(ctl, drv, pool)
    return net


def prune(ctl: Controller) -> list[str]:
    """Remove every unused user network; one a feature still claims is skipped, as Docker does."""
    used = {e.network_id for e in ctl.endpoints.values()}
    pruned = []
    for net in [n for n in ctl.networks.values() if not n.predefined and n.id not in used]:
        try:
            ctl.hooks.run(ctl.hooks.removing_network, net)
        except CnmError:
            continue
        net.delete(ctl)
        pruned.append(net.name)
    return pruned


def _driver_default_subnet(drv: Driver, planner: Ipam | RemoteIpam, lab_ipam: Ipam) -> str | None:
    """A driver may have its own default pools (Windows' nat: a 172.x /20): the first free one.
    Only the lab's IPAM uses them; a remote IPAM plugin picks its own."""
    pools = drv.default_pools()
    if pools is None or planner is not lab_ipam:
        return None
    free = lab_ipam.first_free(pools)
    return str(free) if free else None
