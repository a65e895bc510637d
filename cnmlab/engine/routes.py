"""The core API routes, shaped on the Docker Engine API (networks, containers) plus lab routes."""

from __future__ import annotations

import contextlib
import os

from .. import __version__, docker_views
from ..api import types
from ..errors import CnmError
from .router import Request, router


def _ctl(req: Request):
    return req.engine.controller


# -- engine (/_ping and /version are Docker's: engine/docker/system.py) ------------
@router.route("GET", "/engine/status", kernel=False, reply=types.EngineStatus)
def status(req: Request):
    eng = req.engine
    return {"pid": os.getpid(), "socket": str(eng.socket_path), "version": __version__,
            "store": eng.store_path, "uid": eng.uid, "rootless": eng.uid != 0, "started": eng.started}


@router.route("POST", "/engine/stop", kernel=False, reply=types.EngineStopping)
def stop(req: Request):
    req.engine.request_stop()
    return {"stopping": os.getpid()}


@router.route("POST", "/lab/reset", reply=types.LabReset)
def reset(req: Request):
    _ctl(req).reset()
    return {"reset": True}


@router.route("GET", "/plugins/drivers", kernel=False)
def drivers(req: Request):
    from ..drivers import installed
    from ..plugins import discover

    found = installed()
    return ([{"Name": name, "Entrypoint": value} for name, value in sorted(found.items())]
            + [{"Name": p.name, "Entrypoint": None, "Remote": p.address}
               for p in discover().values() if p.name not in found])


# -- hosts ----------------------------------------------------------------------
@router.route("GET", "/hosts", read=True, reply=list[types.HostInspect])
def hosts(req: Request):
    ctl = _ctl(req)
    return [docker_views.host(ctl, name) for name in ctl.hosts]


@router.route("POST", "/hosts/create", status=201, body=types.HostCreate, exclusive=True, reply=types.HostInspect)
def host_create(req: Request):
    ctl = _ctl(req)
    spec: types.HostCreate = req.body
    host = ctl.add_host(spec.name, address=spec.address, plain=spec.plain)
    return docker_views.host(ctl, host.name)


@router.route("GET", "/hosts/{name}", read=True, reply=types.HostInspect)
def host_get(req: Request):
    ctl = _ctl(req)
    return docker_views.host(ctl, ctl.host(req.params["name"]).name)


@router.route("DELETE", "/hosts/{name}", status=204, exclusive=True)
def host_delete(req: Request):
    _ctl(req).remove_host(req.params["name"])


# -- networks -------------------------------------------------------------------
@router.route("GET", "/networks", read=True, reply=list[types.NetworkInspect])
def networks(req: Request):
    ctl = _ctl(req)
    return [docker_views.network(ctl, n) for n in ctl.networks.values()]


@router.route("POST", "/networks/create", status=201, body=types.NetworkCreate, reply=types.NetworkCreated)
def network_create(req: Request):
    net = _ctl(req).create_network(**req.body.arguments())
    return {"Id": net.id, "Warning": ""}


@router.route("GET", "/networks/{id}", read=True, reply=types.NetworkInspect)
def network_get(req: Request):
    ctl = _ctl(req)
    return docker_views.network(ctl, ctl.network(req.params["id"], req.query.get("host")), verbose=req.flag("verbose"))


@router.route("DELETE", "/networks/{id}", status=204)
def network_delete(req: Request):
    _ctl(req).remove_network(req.params["id"])


@router.route("POST", "/networks/{id}/connect", body=types.NetworkConnect)
def network_connect(req: Request):
    spec: types.NetworkConnect = req.body
    cfg = spec.endpoint_config or types.EndpointSettings()
    _ctl(req).connect(req.params["id"], spec.container, ip=cfg.ip, aliases=list(cfg.aliases or []))
    return None


@router.route("POST", "/networks/{id}/disconnect", body=types.NetworkDisconnect)
def network_disconnect(req: Request):
    _ctl(req).disconnect(req.params["id"], req.body.container, force=req.body.force)
    return None


@router.route("POST", "/networks/prune", reply=types.NetworksPruned)
def network_prune(req: Request):
    return {"NetworksDeleted": _ctl(req).prune_networks()}


# -- containers -----------------------------------------------------------------
@router.route("POST", "/containers/create", status=201, body=types.ContainerCreate,
              reply=types.ContainerCreated)
def container_create(req: Request):
    """Docker's create. With `?start=1` (the lab's `Client.run`) it starts the container in the
    same kernel-thread turn and store transaction, saving a request; a start that fails removes
    the container again, as `docker run` does. `Started` tells the client it was done here."""
    ctl = _ctl(req)
    if not req.flag("start"):
        c = ctl.create_container(**req.body.arguments(req.query.get("name")))
        return {"Id": c.id, "Warnings": []}
    with ctl.store.batch():
        c = ctl.create_container(**req.body.arguments(req.query.get("name")))
        try:
            ctl.start_container(c.id)
        except BaseException:
            with contextlib.suppress(CnmError):
                ctl.remove_container(c.id, force=True)
            ctl.kernel.settle()  # its namespaces' unmounts too: the failed run leaves nothing behind
            raise
    return {"Id": c.id, "Warnings": [], "Started": True}


@router.route("GET", "/containers/json", read=True, reply=list[types.ContainerSummary])
def containers(req: Request):
    ctl = _ctl(req)
    return [docker_views.container_summary(ctl, c) for c in ctl.containers.values()]


@router.route("GET", "/containers/{id}/json", read=True, reply=types.ContainerInspect)
def container_inspect(req: Request):
    ctl = _ctl(req)
    return docker_views.container(ctl, ctl.container(req.params["id"]))


@router.route("GET", "/containers/{id}", read=True, reply=types.ContainerInspect)
def container_get(req: Request):
    return container_inspect(req)


@router.route("DELETE", "/containers/{id}", status=204)
def container_delete(req: Request):
    _ctl(req).remove_container(req.params["id"], force=req.flag("force"))


# -- events ---------------------------------------------------------------------
@router.route("GET", "/events", kernel=False, streaming=True)
def events(req: Request):
    req.engine.stream_events(req)


# -- the API itself -------------------------------------------------------------
@router.route("GET", "/openapi.json", kernel=False)
def openapi(req: Request):
    """The OpenAPI document of this API, generated from its routes and types."""
    from ..api.openapi import document

    return document(router.routes)
