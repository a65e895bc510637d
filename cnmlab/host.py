"""A simulated Docker host: a namespace with an `eth0` on the lab's underlay switch.

A Docker host (not `plain`) also has what dockerd makes when it starts: every loaded driver's
per-host setup (the bridge driver's iptables chains, ...) and its three predefined networks
(bridge, host, none). The controller keeps the hosts by name and checks what is asked
(`Controller.add_host`); the host checks its request, builds and removes itself. Its address on the LAN is
underlay.py's to choose.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import underlay
from .errors import Conflict, Forbidden
from .events import HostAdded, HostRemoved
from .names import check_host_name
from .network import PREDEFINED_NETWORKS

if TYPE_CHECKING:
    from .controller import Controller
    from .drivers import Driver


@dataclass
class Host:
    name: str
    address: str  # on the underlay, e.g. 192.168.100.11
    prefixlen: int = 24
    plain: bool = False  # an "existing" machine on the LAN (a router, a legacy server), not a Docker host
    mtu: int = 1500
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The drivers that have set this host up in this engine run (not a field: not stored,
        # a restored host is set up afresh).
        self.drivers_set_up: set[str] = set()

    @property
    def netns(self) -> str:
        return self.name

    @property
    def underlay_port(self) -> str:
        return f"u-{self.name}"

    # -- the life cycle -------------------------------------------------------------
    @classmethod
    def add(cls, ctl: Controller, name: str, address: str | None = None, plain: bool = False) -> Host:
        """`host add`: a free name (hosts and containers share the namespace list) and a LAN address."""
        check_host_name(name)
        if name in ctl.hosts:
            raise Conflict(f"host with name {name} already exists")
        if name in ctl.containers.by_name:
            raise Conflict(f"name {name} is taken by a container: hosts and containers share the namespace list")
        taken = underlay.addresses_in_use(ctl.hosts.values(), ctl.networks, ctl.endpoints.values())
        host = cls(name=name, address=underlay.pick_address(address, taken), plain=plain)
        host.build(ctl)
        ctl.emit(HostAdded(host=name, address=host.address))
        return host

    def build(self, ctl: Controller) -> None:
        """`host add`: plug it in, then a Docker host's predefined networks; stored once whole.
        All or nothing."""
        with contextlib.ExitStack() as undo:
            self.plug(ctl)
            undo.callback(self.unplug, ctl)
            if not self.plain:
                for net_name, driver, options in PREDEFINED_NETWORKS:
                    net = ctl.new_network(net_name, driver, host=self.name, predefined=True, options=dict(options))
                    undo.callback(net.delete, ctl)
            ctl.store.put(self)
            undo.pop_all()

    def remove(self, ctl: Controller) -> None:
        """`host rm`, refused while a container is on it: its networks go, then the host."""
        users = sorted(c.name for c in ctl.containers.values() if c.host == self.name)
        if users:
            raise Forbidden(f"host {self.name} has containers: {', '.join(users)}; remove them first")
        for net in [n for n in ctl.networks.values() if n.host == self.name]:
            net.delete(ctl)
        self.unplug(ctl)
        ctl.store.delete(self)
        ctl.emit(HostRemoved(host=self.name))

    def plug(self, ctl: Controller) -> None:
        """Its namespace on the switch and, for a Docker host, every loaded driver's setup (the
        bridge driver's always). Restore calls it for a stored host. All or nothing."""
        ctl.kernel.plug_host(self)
        ctl.hosts[self.name] = self
        if self.plain:
            return
        try:
            ctl.driver("bridge")  # loading a driver sets up every Docker host, this one included
            for drv in ctl.loaded_drivers():
                self.set_up(drv)
        except BaseException:
            self.unplug(ctl)
            raise

    def set_up(self, drv: Driver) -> None:
        """The driver's per-host setup, once per engine run."""
        if drv.name not in self.drivers_set_up:
            drv.setup_host(self)
            self.drivers_set_up.add(drv.name)

    def unplug(self, ctl: Controller) -> None:
        ctl.builtin_services.stop(self.netns)
        ctl.kernel.unplug_host(self)
        ctl.hosts.pop(self.name, None)
        self.drivers_set_up.clear()
