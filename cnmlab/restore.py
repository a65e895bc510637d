"""Rebuilding the lab from the store when the engine starts again.

Hosts first, then networks (with their IPAM pools), then every container with its endpoints in
join order, its default route and its published ports. A network whose remote IPAM plugin ran in
the old lab world cannot come back; it is dropped, with a step event saying why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import container as lifecycle
from . import ports
from .clock import now
from .errors import CnmError, NotFound
from .events import LabRestored, StepDone
from .gateway import GW_NETWORK, refresh_default_route
from .sandbox import EndpointConfig
from .ipam import Pool, parse_address, parse_subnet

if TYPE_CHECKING:
    from .controller import Controller


def restore(ctl: Controller) -> None:
    """Rebuild every host, network, container, address and port from the store."""
    ctl.ipam.cursor = int(ctl.store.get_meta("ipam.cursor", "0") or 0)
    hosts = ctl.store.load("host")
    for host in hosts:
        ctl._build_host(host)
    networks = ctl.store.load("network")
    for net in networks:
        _restore_network(ctl, net)
    endpoints = {e.id: e for e in ctl.store.load("endpoint")}
    containers = ctl.store.load("container")
    for c in containers:
        _restore_container(ctl, c, endpoints)
    ctl.emit(LabRestored(hosts=len(hosts), networks=len(networks), containers=len(containers)))


def _restore_network(ctl: Controller, net) -> None:
    try:
        drv = ctl.driver(net.driver)
        if net.ipam_driver not in ("default", "null"):
            raise NotFound(f"its IPAM plugin {net.ipam_driver} ran in the old lab world")
    except CnmError as exc:  # a remote plugin lives in the world, so it does not outlive it
        ctl.store.delete(net)
        ctl.emit(StepDone(where="lab", step=f"network {net.name} not restored: {exc.message}"))
        return
    if net.ipam and drv.capabilities.needs_ipam:
        cfg = net.ipam[0]
        pool = Pool(parse_subnet(cfg.subnet), parse_subnet(cfg.ip_range or cfg.subnet),
                    parse_address(cfg.gateway) if cfg.gateway else None,
                    {int(parse_address(a)) for a in cfg.aux_addresses.values()})
        ctl.ipam.take(net.id, pool)
    drv.create_network(net)
    ctl.networks[net.id] = net


def _restore_container(ctl: Controller, c, endpoints: dict) -> None:
    """A running container comes back with its addresses and a new main process; a created or
    exited one is only its record again (its log stays)."""
    if not c.networks:  # a record from before containers kept their networks: its endpoints say
        c.networks = [EndpointConfig(network=endpoints[e].network_id, ip=endpoints[e].requested_ip,
                                     aliases=list(endpoints[e].aliases), from_connect=endpoints[e].from_connect)
                      for e in c.endpoints if e in endpoints and not _is_gw(ctl, endpoints[e])]
    if not c.running:
        ctl.containers[c.id] = c
        lifecycle.restore_policy(ctl, c)  # e.g. `always`: started again once the lab is back
        return
    if c.shared_with is not None:
        lifecycle.restore_shared(ctl, c)
        return
    ctl._build_sandbox(c, services=lifecycle.main_argv(c) is None)
    order, c.endpoints = c.endpoints, []
    for ep_id in order:
        ep = endpoints.get(ep_id)
        if ep is None or ep.network_id not in ctl.networks:  # its network was not restored
            if ep is not None:
                ctl.store.delete(ep)
            continue
        net = ctl.networks[ep.network_id]
        drv = ctl.driver(net.driver)
        if ep.ip and net.id in ctl.ipam.pools:
            ctl.ipam.pool(net.id).used.add(int(parse_address(ep.ip)))
        drv.create_endpoint(net, ep)
        drv.join(net, ep, c)
        ctl.endpoints[ep.id] = ep
        c.endpoints.append(ep.id)
        ctl.hooks.run(ctl.hooks.joined, net, ep, c)
    if c.endpoints != order:
        ctl.store.put(c)
    refresh_default_route(ctl, c)
    ports.place(ctl, c)
    try:
        lifecycle.spawn_main(ctl, c, ctl.runtime(c.id))
        c.state.started_at = now()
    except CnmError as exc:  # its command is gone from the machine: it stays, exited
        ctl.emit(StepDone(where=c.name, step=f"container {c.name} not restarted: {exc.message}"))
        ctl.submit(ctl.main_exited, c.id, None, 127)
    ctl.store.put(c)


def _is_gw(ctl: Controller, ep) -> bool:
    net = ctl.networks.get(ep.network_id)
    return net is not None and net.name == GW_NETWORK
