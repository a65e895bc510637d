"""Published ports (`-p`): which endpoint carries them, and moving them when that changes.

libnetwork programs a sandbox's port bindings on its gateway endpoint
(ProgramExternalConnectivity) and, when another endpoint becomes the gateway, revokes them on the
old one and programs them on the new. Here too the gateway endpoint carries them: the first
network's, docker_gwbridge for an overlay container, or any network that later takes the
default route over. `ctl._ports_on` records where they are programmed in the kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import Conflict, InvalidParameter
from .gateway import gateway_endpoint

if TYPE_CHECKING:
    from .controller import Controller
    from .endpoint import Endpoint
    from .network import Network
    from .sandbox import Container, PortBinding


EPHEMERAL = range(49153, 65536)  # where dockerd's port allocator picks `-p PORT` / `-P` host ports


def check_free(ctl: Controller, host: str, bindings: list[PortBinding], besides: Container | None = None) -> None:
    """Only running containers hold their ports (Docker allocates them at start). Ephemeral
    bindings get their host port here, afresh at every start."""
    if not bindings:  # most containers publish nothing: no walk over every container
        return
    taken = [p for c in ctl.containers.values() if c.host == host and c.running and c is not besides
             for p in c.ports]
    for p in bindings:
        if p.ephemeral:
            p.host_port = next((n for n in EPHEMERAL if not _clash(taken, n, p)), 0)
            if not p.host_port:
                raise Conflict("no free ephemeral port left on the host for `-p` (49153-65535)")
        elif _clash(taken, p.host_port, p):
            raise Conflict(f"Bind for {p.host_ip or '0.0.0.0'}:{p.host_port} failed: port is already allocated")
        taken.append(p)


def _clash(taken: list[PortBinding], port: int, p: PortBinding) -> bool:
    return any(q.host_port == port and q.proto == p.proto and (not q.host_ip or not p.host_ip or q.host_ip == p.host_ip)
               for q in taken)


def port_endpoint(ctl: Controller, c: Container) -> tuple[Network, Endpoint] | None:
    if not c.endpoints:
        return None
    ep = gateway_endpoint(ctl, c) or ctl.endpoints[c.endpoints[0]]
    return ctl.networks[ep.network_id], ep


def place(ctl: Controller, c: Container, moving: bool = False) -> None:
    """Program the ports on the endpoint that should carry them, revoking them where they were."""
    target = port_endpoint(ctl, c) if c.ports else None
    if target and ctl._ports_on.get(c.id) == target[1].id:
        return
    unpublish(ctl, c)
    if target is None:
        return
    net, ep = target
    try:
        ctl.driver(net.driver).publish(net, ep, c, c.ports)
    except InvalidParameter:
        if not moving:
            raise
        c.ports = []  # the new gateway's driver publishes nothing (macvlan): as Docker, they go
        return
    ctl._ports_on[c.id] = ep.id


def unpublish(ctl: Controller, c: Container) -> None:
    ep_id = ctl._ports_on.pop(c.id, None)
    ep = ctl.endpoints.get(ep_id) if ep_id else None
    if ep is not None:
        net = ctl.networks[ep.network_id]
        ctl.driver(net.driver).unpublish(net, ep, c, c.ports)


def revoke_if_on(ctl: Controller, c: Container, ep: Endpoint) -> None:
    """Before `ep` goes: its ports are revoked there (place() puts them on the next gateway)."""
    if ctl._ports_on.get(c.id) == ep.id:
        unpublish(ctl, c)
