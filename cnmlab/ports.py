"""Published ports (`-p`): which endpoint carries them.

libnetwork programs a sandbox's port bindings on its gateway endpoint: here the first network's
endpoint, or docker_gwbridge's for a sandbox whose first network gives no gateway (overlay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import Conflict

if TYPE_CHECKING:
    from .controller import Controller
    from .endpoint import Endpoint
    from .network import Network
    from .sandbox import Container, PortBinding


def check_free(ctl: Controller, host: str, bindings: list[PortBinding]) -> None:
    taken = {(p.host_port, p.proto) for c in ctl.containers.values() if c.host == host for p in c.ports}
    seen = set()
    for p in bindings:
        key = (p.host_port, p.proto)
        if key in taken or key in seen:
            raise Conflict(f"Bind for 0.0.0.0:{p.host_port} failed: port is already allocated")
        seen.add(key)


def port_endpoint(ctl: Controller, c: Container) -> tuple[Network, Endpoint] | None:
    if not c.endpoints:
        return None
    ep = ctl.endpoints[c.endpoints[0]]
    if ep.gateway is None:  # libnetwork publishes on the gateway endpoint: docker_gwbridge for an overlay
        gw_net = ctl._gw_network(c.host, create=False)
        ep = (ctl.endpoint_of(c, gw_net) if gw_net else None) or ep
    return ctl.networks[ep.network_id], ep


def publish(ctl: Controller, c: Container) -> None:
    target = port_endpoint(ctl, c)
    if target and c.ports:
        net, ep = target
        ctl.driver(net.driver).publish(net, ep, c, c.ports)


def unpublish(ctl: Controller, c: Container) -> None:
    target = port_endpoint(ctl, c)
    if target and c.ports:
        net, ep = target
        ctl.driver(net.driver).unpublish(net, ep, c, c.ports)
