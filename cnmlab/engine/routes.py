"""The core API routes, shaped on the Docker Engine API (networks, containers) plus lab routes."""

from __future__ import annotations

import os

from .. import __version__, inspect
from ..errors import InvalidParameter
from .router import Request, router


def _ctl(req: Request):
    return req.engine.controller


def _dict(value, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"{name} must be an object of string keys and values")
    return {str(k): str(v) for k, v in value.items()}


# -- engine (/_ping and /version are Docker's: engine/docker/system.py) ------------
@router.route("GET", "/engine/status", kernel=False)
def status(req: Request):
    eng = req.engine
    return {"pid": os.getpid(), "socket": str(eng.socket_path), "version": __version__,
            "store": eng.store_path, "uid": eng.uid, "rootless": eng.uid != 0, "started": eng.started}


@router.route("POST", "/engine/stop", kernel=False)
def stop(req: Request):
    req.engine.request_stop()
    return {"stopping": os.getpid()}


@router.route("POST", "/lab/reset")
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
@router.route("GET", "/hosts")
def hosts(req: Request):
    ctl = _ctl(req)
    return [inspect.host(ctl, name) for name in ctl.hosts]


@router.route("POST", "/hosts/create", status=201)
def host_create(req: Request):
    ctl = _ctl(req)
    host = ctl.add_host(req.field("Name", ""), address=req.field("Address"), plain=bool(req.field("Plain", False)))
    return inspect.host(ctl, host.name)


@router.route("GET", "/hosts/{name}")
def host_get(req: Request):
    ctl = _ctl(req)
    return inspect.host(ctl, ctl.host(req.params["name"]).name)


@router.route("DELETE", "/hosts/{name}", status=204)
def host_delete(req: Request):
    _ctl(req).remove_host(req.params["name"])


# -- networks -------------------------------------------------------------------
@router.route("GET", "/networks")
def networks(req: Request):
    ctl = _ctl(req)
    return [inspect.network(ctl, n) for n in ctl.networks.values()]


@router.route("POST", "/networks/create", status=201)
def network_create(req: Request):
    ctl = _ctl(req)
    ipam = req.field("IPAM") or {}
    configs = ipam.get("Config") or [{}]
    if len(configs) > 1:
        raise InvalidParameter("only one IPv4 subnet per network is supported in the lab")
    cfg = configs[0]
    net = ctl.create_network(
        req.field("Name", ""),
        driver=req.field("Driver") or "bridge",
        subnet=cfg.get("Subnet"),
        gateway=cfg.get("Gateway"),
        ip_range=cfg.get("IPRange"),
        aux_addresses=_dict(cfg.get("AuxiliaryAddresses"), "AuxiliaryAddresses"),
        internal=bool(req.field("Internal", False)),
        attachable=bool(req.field("Attachable", False)),
        options=_dict(req.field("Options"), "Options"),
        labels=_dict(req.field("Labels"), "Labels"),
        ipv6=bool(req.field("EnableIPv6", False)),
        host=req.field("Host"),
        ipam_driver=ipam.get("Driver") or "default",
    )
    return {"Id": net.id, "Warning": ""}


@router.route("GET", "/networks/{id}")
def network_get(req: Request):
    ctl = _ctl(req)
    return inspect.network(ctl, ctl.network(req.params["id"], req.query.get("host")), verbose=req.flag("verbose"))


@router.route("DELETE", "/networks/{id}", status=204)
def network_delete(req: Request):
    _ctl(req).remove_network(req.params["id"])


@router.route("POST", "/networks/{id}/connect")
def network_connect(req: Request):
    cfg = req.field("EndpointConfig") or {}
    ipam_cfg = cfg.get("IPAMConfig") or {}
    _ctl(req).connect(req.params["id"], req.field("Container", ""), ip=ipam_cfg.get("IPv4Address"),
                      aliases=list(cfg.get("Aliases") or []))
    return None


@router.route("POST", "/networks/{id}/disconnect")
def network_disconnect(req: Request):
    _ctl(req).disconnect(req.params["id"], req.field("Container", ""), force=bool(req.field("Force", False)))
    return None


@router.route("POST", "/networks/prune")
def network_prune(req: Request):
    return {"NetworksDeleted": _ctl(req).prune_networks()}


# -- containers -----------------------------------------------------------------
@router.route("POST", "/containers/create", status=201)
def container_create(req: Request):
    """Docker's create: the container is recorded (`created`); POST /containers/{id}/start builds it."""
    ctl = _ctl(req)
    host_cfg = req.field("HostConfig") or {}
    endpoints = ((req.field("NetworkingConfig") or {}).get("EndpointsConfig")) or {}
    mode = host_cfg.get("NetworkMode") or None
    primary = [mode] if mode and mode != "default" else []
    networks = primary + [n for n in endpoints if n not in primary]
    configs = {n: {"ip": (cfg.get("IPAMConfig") or {}).get("IPv4Address"), "aliases": list(cfg.get("Aliases") or []),
                   "mac": cfg.get("MacAddress")} for n, cfg in endpoints.items() if isinstance(cfg, dict)}
    ports = []
    for key, bindings in (host_cfg.get("PortBindings") or {}).items():
        cport, _, proto = key.partition("/")
        for b in bindings or [{}]:
            b = b or {}
            ports.append(f"{b.get('HostIp') or ''}:{b.get('HostPort') or ''}:{cport}/{proto or 'tcp'}"
                         if b.get("HostIp") else f"{b.get('HostPort') or ''}:{cport}/{proto or 'tcp'}")
    c = ctl.create_container(
        req.query.get("name") or req.field("Name") or None,
        network=networks,
        endpoint_configs=configs,
        ports=ports,
        host=req.field("Host"),
        labels=_dict(req.field("Labels"), "Labels"),
        image=str(req.field("Image") or ""),
        cmd=_argv(req.field("Cmd"), "Cmd"),
        entrypoint=_argv(req.field("Entrypoint"), "Entrypoint"),
        env=_argv(req.field("Env"), "Env") or [],
        hostname=req.field("Hostname") or None,
        tty=bool(req.field("Tty", False)),
        open_stdin=bool(req.field("OpenStdin", False)),
        stdin_once=bool(req.field("StdinOnce", False)),
        auto_remove=bool(host_cfg.get("AutoRemove", False)),
    )
    return {"Id": c.id, "Warnings": []}


def _argv(value, name: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise InvalidParameter(f"{name} must be a list of strings")
    return [str(v) for v in value]


@router.route("GET", "/containers/json")
def containers(req: Request):
    ctl = _ctl(req)
    return [inspect.container_summary(ctl, c) for c in ctl.containers.values()]


@router.route("GET", "/containers/{id}/json")
def container_inspect(req: Request):
    ctl = _ctl(req)
    return inspect.container(ctl, ctl.container(req.params["id"]))


@router.route("GET", "/containers/{id}")
def container_get(req: Request):
    return container_inspect(req)


@router.route("DELETE", "/containers/{id}", status=204)
def container_delete(req: Request):
    _ctl(req).remove_container(req.params["id"], force=req.flag("force"))


# -- events ---------------------------------------------------------------------
@router.route("GET", "/events", kernel=False, streaming=True)
def events(req: Request):
    req.engine.stream_events(req)
