"""The services feature: the /services routes (the client's service_* calls) and the hooks.

`network inspect -v` shows each network's services, as Docker's verbose inspect does.
"""

from __future__ import annotations

from ..api import types
from ..api.router import Request, router
from . import lb
from .manager import ServiceManager


def view(mgr: ServiceManager, svc) -> dict:
    """A service as `docker service inspect` shows it, plus the tasks (cnmlab: no /tasks route)."""
    ctl = mgr.ctl
    net = ctl.networks.get(svc.network_id)
    ports = [{"Protocol": p.proto, "TargetPort": p.container_port, "PublishedPort": p.host_port,
              "PublishMode": "ingress"} for p in svc.ports]
    spec = {"Mode": svc.endpoint_mode, "Ports": ports}
    prefix = net.ipam[0].subnet.split("/")[1] if net and net.ipam else "32"
    tasks = []
    for t in svc.tasks:
        c = ctl.containers.get(t.container_id)
        ep = mgr._endpoint(c, svc.network_id) if c else None
        tasks.append({"Slot": t.slot, "Name": t.name, "ContainerID": t.container_id,
                      "Host": c.host if c else None, "Address": ep.ip if ep else None,
                      "State": "running" if c else "gone"})
    return {
        "ID": svc.id,
        "Version": {"Index": 1},
        "CreatedAt": svc.created,
        "Spec": {
            "Name": svc.name,
            "Labels": {},
            "TaskTemplate": {"Networks": [{"Target": svc.network_id, "Aliases": []}]},
            "Mode": {"Replicated": {"Replicas": svc.replicas}},
            "EndpointSpec": spec,
        },
        "Endpoint": {
            "Spec": spec,
            "Ports": ports,
            "VirtualIPs": [{"NetworkID": svc.network_id, "Addr": f"{svc.vip}/{prefix}"}] if svc.vip else [],
        },
        "ServiceStatus": {"RunningTasks": len(svc.tasks), "DesiredTasks": svc.replicas},
        "Network": net.name if net else None,  # cnmlab: the network's name, for listings
        "Balancer": lb.balancer() if svc.vip else "DNS round robin (dnsrr)",  # cnmlab
        "Tasks": tasks,  # cnmlab
    }


def network_services(mgr: ServiceManager, net, data: dict, verbose: bool) -> None:
    """network inspect -v: "Services" with each VIP and its tasks (Docker's verbose shape)."""
    if not verbose:
        return
    ctl = mgr.ctl
    out = {}
    for svc in mgr.on_network(net.id):
        tasks = []
        for t in svc.tasks:
            c = ctl.containers.get(t.container_id)
            ep = mgr._endpoint(c, net.id) if c else None
            host = ctl.hosts.get(c.host) if c else None
            tasks.append({"Name": t.name, "EndpointID": ep.id if ep else "", "EndpointIP": ep.ip if ep else "",
                          "Info": {"Host IP": host.address if host else ""}})
        out[svc.name] = {"VIP": svc.vip or "", "Ports": [f"Target: {p.container_port}, Publish: {p.host_port}"
                                                         for p in svc.ports],
                         "LocalLBIndex": 0, "Tasks": tasks}
    data["Services"] = out


def attach(engine) -> None:
    ctl = engine.controller
    mgr = engine.extensions.provide(ServiceManager(engine))
    ctl.hooks.joined.append(mgr.joined)
    ctl.hooks.left.append(mgr.left)
    ctl.hooks.sandbox_created.append(mgr.sandbox_created)
    ctl.hooks.sandbox_removed.append(mgr.sandbox_removed)
    ctl.hooks.network_removed.append(mgr.network_removed)
    ctl.subscribe(mgr.on_event, *mgr.EVENTS)
    ctl.hooks.network_inspect.append(lambda ctl, net, data, verbose: network_services(mgr, net, data, verbose))
    # Docker asks the swarm first: `network rm` names the service even while its replicas still
    # have endpoints, and `network prune` skips a service's network rather than failing.
    ctl.hooks.removing_network.append(mgr.refuse_if_in_use)


@router.route("GET", "/services")
def services(req: Request):
    mgr = req.engine.extensions.get(ServiceManager)
    return [view(mgr, s) for s in mgr.services.values()]


@router.route("POST", "/services/create", status=201, body=types.ServiceCreate)
def service_create(req: Request):
    mgr = req.engine.extensions.get(ServiceManager)
    spec: types.ServiceCreate = req.body
    svc = mgr.create(spec.name, spec.network, replicas=spec.replicas, ports=list(spec.ports or []),
                     endpoint_mode=spec.endpoint_mode or "vip", host=spec.host)
    return view(mgr, svc)


@router.route("GET", "/services/{id}")
def service_get(req: Request):
    mgr = req.engine.extensions.get(ServiceManager)
    return view(mgr, mgr.service(req.params["id"]))


@router.route("POST", "/services/{id}/update", body=types.ServiceScale)
def service_update(req: Request):
    mgr = req.engine.extensions.get(ServiceManager)
    return view(mgr, mgr.scale(req.params["id"], req.body.replicas))


@router.route("DELETE", "/services/{id}", status=204)
def service_delete(req: Request):
    req.engine.extensions.get(ServiceManager).remove(req.params["id"])
