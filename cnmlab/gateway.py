"""The default gateway of a sandbox, and docker_gwbridge, its way out when no network gives one.

libnetwork's sandbox.getGatewayEndpoint / needDefaultGW / setupDefaultGW / clearDefaultGW: an
overlay endpoint has no gateway, so its container also joins one `docker_gwbridge` bridge of its
host (icc off, masquerade on); it leaves that bridge as soon as another network gives a gateway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .controller import Controller
    from .endpoint import Endpoint
    from .network import Network
    from .sandbox import Container

GW_NETWORK = "docker_gwbridge"
GW_OPTIONS = {
    "com.docker.network.bridge.name": GW_NETWORK,
    "com.docker.network.bridge.enable_icc": "false",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
}


def gateway_endpoint(ctl: Controller, c: Container) -> Endpoint | None:
    """The endpoint that gives the default route: Docker prefers non-internal, then any network
    before docker_gwbridge, then name order."""
    candidates = [ctl.endpoints[e] for e in c.endpoints if ctl.endpoints[e].gateway]
    if not candidates:
        return None
    return min(candidates, key=lambda e: (ctl.networks[e.network_id].internal,
                                          ctl.networks[e.network_id].name == GW_NETWORK,
                                          ctl.networks[e.network_id].name))


def needs_default_gw(ctl: Controller, c: Container, ignore: Endpoint | None = None) -> bool:
    """Some endpoint wants a way out (not internal, not host/none) and none gives a gateway."""
    need = False
    for ep_id in c.endpoints:
        ep = ctl.endpoints[ep_id]
        net = ctl.networks[ep.network_id]
        if (ep is ignore or net.name == GW_NETWORK or net.internal
                or ctl.driver(net.driver).capabilities.network_mode):
            continue
        if ep.state.get("disable_gateway_service"):  # the driver said so in its Join reply
            continue
        if ep.gateway:
            return False
        need = True
    return need


def gw_network(ctl: Controller, host: str, create: bool) -> Network | None:
    for net in ctl.networks.values():
        if net.name == GW_NETWORK and net.host == host:
            return net
    return ctl._create_network(GW_NETWORK, "bridge", host=host, options=dict(GW_OPTIONS)) if create else None


def sync_default_gw(ctl: Controller, c: Container, ignore: Endpoint | None = None, from_connect: bool = False) -> None:
    """Join docker_gwbridge when the sandbox needs a default gateway, leave it when not."""
    if c.network_mode == "host":
        return
    gw_net = gw_network(ctl, c.host, create=False)
    gw_ep = ctl.endpoint_of(c, gw_net) if gw_net else None
    need = needs_default_gw(ctl, c, ignore)
    if need and gw_ep is None:
        ctl._join(gw_network(ctl, c.host, create=True), c, ip=None, aliases=[], from_connect=from_connect)
    elif not need and gw_ep is not None:
        ctl._leave(gw_net, c, gw_ep, teardown=False)  # its published ports move on (ports.py)


def refresh_default_route(ctl: Controller, c: Container) -> None:
    if c.network_mode == "host":
        return
    ep = gateway_endpoint(ctl, c)
    ctl.kernel.set_default_route(c.netns, ep.gateway if ep else None, ep.ifname if ep else None)
