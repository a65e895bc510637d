"""The driver contract, after libnetwork's driverapi: the CNM lifecycle a driver implements.

    create_network -> create_endpoint -> join(sandbox) ... leave -> delete_endpoint -> delete_network

Drivers receive plain data (Network, Endpoint, Container records) and a DriverContext that gives
them the OS layer and the lab's hosts. They never see a UI. The controller allocates addresses
(IPAM) before it calls a driver, and undoes the steps already done when a driver raises.

This is the public API for third-party drivers (docs/drivers.md): a package registers a Driver
subclass under the `cnmlab.drivers` entry-point group; Docker remote plugins are wrapped in one
by drivers/remote.py. Raise a `cnmlab.errors.CnmError` subclass for a one-line user error.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from ..events import StepDone

if TYPE_CHECKING:
    from ipaddress import IPv4Network

    from ..endpoint import Endpoint
    from ..events import Event
    from ..host import Host
    from ..network import Network
    from ..osl.netns import Namespaces
    from ..sandbox import Container, PortBinding


@dataclass(frozen=True)
class Capabilities:
    """libnetwork's driverapi.Capability, plus what the controller must allocate for the driver."""

    scope: str = "local"  # "local": the network lives on one host; "global": it spans hosts
    connectivity_scope: str = "local"
    needs_ipam: bool = True  # False for host/none: no addresses to allocate
    has_gateway: bool = True  # the IPAM gateway is an address the driver puts on the data path
    # "host" / "none": the network is a network mode (Docker's host and none networks): its
    # container makes no interface, needs no way out, and joins no other network.
    network_mode: str | None = None


@dataclass
class JoinInfo:
    """What a join tells the sandbox: the gateway it may use as default route, extra routes."""

    gateway: str | None = None
    static_routes: list[dict] = field(default_factory=list)
    disable_gateway_service: bool = False


@dataclass
class DriverContext:
    """What a driver may use: namespaces (`ns.ipr(name)`), the hosts, and the event stream."""

    ns: Namespaces
    host: Callable[[str], Host]
    hosts: Callable[[], list[Host]]
    emit: Callable[[Event], None]
    underlay_ns: str = "underlay"

    def step(self, where: str, text: str) -> None:
        self.emit(StepDone(where=where, step=text))


class Driver(ABC):
    """Base class of every network driver. Defaults make the optional calls no-ops."""

    name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    option_keys: ClassVar[tuple[str, ...]] = ()  # `-o` keys the driver understands
    on_underlay: ClassVar[bool] = False  # its subnets may be the lab LAN's own (macvlan): IPAM lets them overlap it
    # its containers and their parent interface's own host never talk directly (macvlan, ipvlan):
    # probes name that as the cause of the silence between them
    parent_isolated: ClassVar[bool] = False
    ipam_driver: ClassVar[str | None] = None  # a driver with its own IPAM: `--ipam-driver` is never a remote plugin

    def __init__(self, ctx: DriverContext) -> None:
        self.ctx = ctx

    # -- the lab ------------------------------------------------------------------
    def reset(self) -> None:
        """The lab was wiped (every namespace dropped): forget any lab-wide state."""

    def default_pools(self) -> list[IPv4Network] | None:
        """Where the controller looks for a subnet when none is given (None: the IPAM's own pools)."""
        return None

    def namespaces(self, network: Network) -> list[str]:
        """Namespaces the driver made for the network beyond hosts and sandboxes (overlay's
        per-host `1-<id>@<host>`), so `cnmlab shell` can name and enter them."""
        return []

    def inspect_network(self, network: Network, data: dict, verbose: bool) -> None:
        """Add the driver's own fields to `docker network inspect` (overlay: Peers)."""

    def device(self, network: Network) -> str:
        """The Linux device behind the network (a bridge, a parent interface), for diagrams."""
        return ""

    # -- hosts ------------------------------------------------------------------
    def setup_host(self, host: Host) -> None:
        """Called once for every Docker host when it is added (or restored)."""

    # -- networks ---------------------------------------------------------------
    def validate(self, network: Network) -> None:
        """Refuse bad options before anything is made (raise a CnmError)."""

    def create_network(self, network: Network) -> None:
        """Make the network's data plane; record what was made in network.state."""

    def delete_network(self, network: Network) -> None:
        """Remove what create_network made."""

    # -- endpoints --------------------------------------------------------------
    def create_endpoint(self, network: Network, endpoint: Endpoint) -> None:
        """Decide the endpoint's interface details (MAC, names) before it joins."""

    def delete_endpoint(self, network: Network, endpoint: Endpoint) -> None:
        """Forget the endpoint (after leave, or to undo create_endpoint). Must not raise."""

    def join(self, network: Network, endpoint: Endpoint, container: Container) -> JoinInfo:
        """Put the endpoint's interface into the container's sandbox, named endpoint.ifname."""
        return JoinInfo()

    def leave(self, network: Network, endpoint: Endpoint, container: Container, teardown: bool = False) -> None:
        """Take the endpoint out of the sandbox. With teardown, the sandbox is about to be
        dropped, and the kernel removes its links anyway."""

    # -- ports (ProgramExternalConnectivity) -------------------------------------
    def publish(self, network: Network, endpoint: Endpoint, container: Container, ports: list[PortBinding]) -> None:
        if ports:
            from ..errors import InvalidParameter

            raise InvalidParameter(f"the {self.name} driver does not publish ports")

    def unpublish(self, network: Network, endpoint: Endpoint, container: Container, ports: list[PortBinding]) -> None:
        pass
