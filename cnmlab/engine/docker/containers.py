"""Docker's container routes: create (the request's network, port and DNS settings), list
(`all`, filters), inspect, remove, and the life-cycle routes, in Docker's shapes."""

from __future__ import annotations

import datetime

from ... import inspect
from ...errors import CnmError, Conflict, InvalidParameter
from ...names import random_container_name
from ...sandbox import PortBinding
from ..router import Request
from . import images
from .api import router
from .filters import Filters
from .networks import HOST_LABEL, remember_endpoint_config

EPHEMERAL_PORTS = range(49153, 65536)  # where dockerd's port allocator starts (ip_local_port_range)


# -- create -----------------------------------------------------------------------
@router.route("POST", "/containers/create", status=201)
def create(req: Request) -> dict:
    ctl = req.engine.controller
    body = req.body if isinstance(req.body, dict) else {}
    host_cfg = body.get("HostConfig") or {}
    labels = {str(k): str(v) for k, v in (body.get("Labels") or {}).items()}
    name = req.query.get("name") or random_container_name({c.name for c in ctl.containers.values()})
    host = labels.get(HOST_LABEL) or body.get("Host") or ctl.default_host()
    networks, configs = _networks(req, host_cfg, body)
    first = configs.get(networks[0], {}) if networks else {}
    if body.get("MacAddress") and networks and not first.get("MacAddress"):
        first = {**first, "MacAddress": body["MacAddress"]}  # before API 1.44 the MAC sat in Config
    ports = _port_bindings(ctl, host, body, host_cfg)
    c = ctl.create_container(name, network=networks[:1], ip=_ipv4(first), aliases=list(first.get("Aliases") or []),
                             ports=ports, host=host, labels=labels)
    try:
        if first.get("MacAddress") or first.get("Links") or first.get("DriverOpts"):
            _apply_first_endpoint(ctl, c, networks[0], first)
        for net in networks[1:]:  # Docker 25+ (API 1.44) joins every network named, in order
            cfg = configs.get(net) or {}
            ep = ctl.connect(net, c.id, ip=_ipv4(cfg), aliases=list(cfg.get("Aliases") or []),
                             mac=cfg.get("MacAddress") or None)
            ep.from_connect = False  # joined at create: inspect shows it as Docker does (IPAMConfig null)
            ctl.store.put(ep)
            remember_endpoint_config(ctl, ep, cfg)
    except BaseException:
        ctl.remove_container(c.id, force=True)
        raise
    _remember_config(req.engine, c, body, name)
    return {"Id": c.id, "Warnings": []}


def _networks(req: Request, host_cfg: dict, body: dict) -> tuple[list[str], dict[str, dict]]:
    mode = host_cfg.get("NetworkMode") or "default"
    configs = dict(((body.get("NetworkingConfig") or {}).get("EndpointsConfig")) or {})
    if mode.startswith("container:"):
        raise InvalidParameter("network mode container:NAME (sharing another container's network stack) is "
                               "not supported in the lab; connect both containers to one network instead")
    primary = "bridge" if mode == "default" else mode
    names = [primary] + [n for n in configs if n != primary]
    old_api = req.api_version is not None and tuple(map(int, req.api_version.split("."))) < (1, 44)
    if len(names) > 1 and old_api:
        raise InvalidParameter(f"Container cannot be connected to network endpoints: {', '.join(names)}.")
    if primary in ("host", "none") and len(names) > 1:
        raise InvalidParameter(f"container cannot be connected to network endpoints: {', '.join(names)}: "
                               f"{primary} network mode cannot be combined with other networks")
    return names, configs


def _ipv4(cfg: dict) -> str | None:
    return (cfg.get("IPAMConfig") or {}).get("IPv4Address") or None


def _apply_first_endpoint(ctl, c, network: str, cfg: dict) -> None:
    """A MAC for the first network: rejoin it with the MAC, keeping the address asked for."""
    net = ctl.network(network, c.host)
    ep = ctl.endpoint_of(c, net)
    if cfg.get("MacAddress"):
        ctl.disconnect(net.id, c.id, force=True)
        ep = ctl.connect(net.id, c.id, ip=_ipv4(cfg), aliases=list(cfg.get("Aliases") or []), mac=cfg["MacAddress"])
        ep.from_connect = False  # it came from run, and inspect shows it so
        ctl.store.put(ep)
    remember_endpoint_config(ctl, ep, cfg)


def _port_bindings(ctl, host: str, body: dict, host_cfg: dict) -> list[PortBinding]:
    wanted: dict[str, list[dict]] = {k: list(v or [{}]) for k, v in (host_cfg.get("PortBindings") or {}).items()}
    if host_cfg.get("PublishAllPorts"):
        exposed = dict(images.config(body.get("Image") or "").get("ExposedPorts") or {})
        exposed.update(body.get("ExposedPorts") or {})
        for key in exposed:
            wanted.setdefault(key if "/" in key else f"{key}/tcp", [{}])
    taken = {(p.host_port, p.proto) for c in ctl.containers.values() if c.host == host for p in c.ports}
    out = []
    for key, bindings in wanted.items():
        cport, _, proto = key.partition("/")
        proto = proto or "tcp"
        if not cport.isdigit() or proto not in ("tcp", "udp"):
            raise InvalidParameter(f"invalid port specification: \"{key}\" (the lab publishes tcp and udp ports)")
        for b in bindings:
            host_ip = (b or {}).get("HostIp") or ""
            if host_ip not in ("", "0.0.0.0"):
                raise InvalidParameter(f"published ports listen on every address of the host in the lab "
                                       f"(HostIp {host_ip}): use -p {cport} or -p HOSTPORT:{cport}")
            hp = str((b or {}).get("HostPort") or "")
            port = _host_port(hp, proto, taken, key)
            taken.add((port, proto))
            out.append(PortBinding(port, int(cport), proto))
    return out


def _host_port(text: str, proto: str, taken: set, key: str) -> int:
    if not text:
        candidates = EPHEMERAL_PORTS
    elif text.isdigit():
        return int(text)
    else:
        low, _, high = text.partition("-")
        if not (low.isdigit() and high.isdigit()):
            raise InvalidParameter(f"invalid port specification: \"{text}\" for {key}")
        candidates = range(int(low), int(high) + 1)
    for port in candidates:
        if (port, proto) not in taken:
            return port
    raise Conflict(f"Bind for 0.0.0.0:{text or 'ephemeral'} failed: port is already allocated")


def _remember_config(engine, c, body: dict, name: str) -> None:
    """What the request asked for, kept for inspect and ps (the core keeps the network part)."""
    host_cfg = body.get("HostConfig") or {}
    configs.setdefault(engine, {})[c.id] = {
        "Image": body.get("Image") or "",
        "Cmd": body.get("Cmd"), "Entrypoint": body.get("Entrypoint"), "Env": body.get("Env"),
        "Hostname": body.get("Hostname") or "", "ExposedPorts": body.get("ExposedPorts"),
        "HostConfig": {k: host_cfg.get(k) for k in ("Dns", "DnsSearch", "DnsOptions", "ExtraHosts", "Links",
                                                     "AutoRemove", "PublishAllPorts", "RestartPolicy")},
    }


configs: dict = {}  # engine -> container id -> the Docker request's own fields


# -- views ------------------------------------------------------------------------
def _extra(req: Request, c) -> dict:
    return configs.get(req.engine, {}).get(c.id, {})


def _unix(text: str) -> int:
    try:
        return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def _command(extra: dict) -> list[str]:
    image = images.config(extra.get("Image") or "")
    entry = extra.get("Entrypoint") if extra.get("Entrypoint") is not None else image.get("Entrypoint")
    cmd = extra.get("Cmd") if extra.get("Cmd") is not None else image.get("Cmd")
    return list(entry or []) + list(cmd or [])


def view(req: Request, c) -> dict:
    """`docker inspect`: the core's view, completed with the fields Docker's clients read."""
    ctl = req.engine.controller
    data = inspect.container(ctl, c)
    extra = _extra(req, c)
    image = extra.get("Image") or "cnmlab"
    command = _command(extra)
    data.setdefault("Path", command[0] if command else "")
    data.setdefault("Args", command[1:])
    data["Image"] = images.image_id(image)
    state = data.setdefault("State", {})
    for key, value in {"Status": "running", "Running": True, "Paused": False, "Restarting": False,
                       "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
                       "StartedAt": c.created, "FinishedAt": "0001-01-01T00:00:00Z"}.items():
        state.setdefault(key, value)
    for key, value in {"ResolvConfPath": "", "HostnamePath": "", "HostsPath": "", "LogPath": "",
                       "RestartCount": 0, "Driver": "cnmlab", "Platform": "linux", "MountLabel": "",
                       "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None, "Mounts": [],
                       "GraphDriver": {"Name": "cnmlab", "Data": None}}.items():
        data.setdefault(key, value)
    config = data.setdefault("Config", {})
    for key, value in {"Hostname": c.hostname, "Domainname": "", "User": "", "AttachStdin": False,
                       "AttachStdout": False, "AttachStderr": False, "ExposedPorts": _exposed(c, extra),
                       "Tty": False, "OpenStdin": False, "StdinOnce": False,
                       "Env": extra.get("Env") or images.config(image)["Env"],
                       "Cmd": extra.get("Cmd") if extra.get("Cmd") is not None else images.config(image)["Cmd"],
                       "Image": image, "Volumes": None, "WorkingDir": "",
                       "Entrypoint": extra.get("Entrypoint") if extra.get("Entrypoint") is not None
                       else images.config(image)["Entrypoint"], "OnBuild": None}.items():
        config.setdefault(key, value)
    host_cfg = data.setdefault("HostConfig", {})
    for key, value in (extra.get("HostConfig") or {}).items():
        host_cfg.setdefault(key, value)
    for key, value in {"Dns": [], "DnsSearch": [], "DnsOptions": [], "ExtraHosts": None, "Links": None,
                       "AutoRemove": False, "PublishAllPorts": False,
                       "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}}.items():
        if host_cfg.get(key) is None:
            host_cfg[key] = value
    settings = data.setdefault("NetworkSettings", {})
    for key, value in {"Bridge": "", "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
                       "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "GlobalIPv6Address": "",
                       "GlobalIPv6PrefixLen": 0, "IPv6Gateway": ""}.items():
        settings.setdefault(key, value)
    for ep in settings.get("Networks", {}).values():
        for key, value in {"IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0}.items():
            ep.setdefault(key, value)
    return data


def _exposed(c, extra: dict) -> dict | None:
    exposed = dict(extra.get("ExposedPorts") or {})
    for p in c.ports:
        exposed.setdefault(f"{p.container_port}/{p.proto}", {})
    return exposed or None


def summary(req: Request, c) -> dict:
    """One row of `docker ps`."""
    data = view(req, c)
    state = data["State"]
    ports = []
    for key, bindings in (data["NetworkSettings"].get("Ports") or {}).items():
        cport, _, proto = key.partition("/")
        for b in bindings or []:
            ports.append({"IP": b.get("HostIp") or "0.0.0.0", "PrivatePort": int(cport),
                          "PublicPort": int(b["HostPort"]), "Type": proto})
    command = _command(_extra(req, c))
    return {
        "Id": c.id, "Names": [data["Name"]], "Image": data["Config"]["Image"], "ImageID": data["Image"],
        "Command": " ".join(command), "Created": _unix(data["Created"]), "Ports": ports,
        "Labels": dict(data["Config"].get("Labels") or {}), "State": state["Status"],
        "Status": _status(state), "HostConfig": {"NetworkMode": data["HostConfig"].get("NetworkMode", "")},
        "NetworkSettings": {"Networks": data["NetworkSettings"].get("Networks", {})}, "Mounts": [],
    }


def _status(state: dict) -> str:
    if state.get("Running"):
        return "Up"
    if state.get("Status") == "created":
        return "Created"
    return f"Exited ({state.get('ExitCode', 0)})"


# -- list, inspect, remove ------------------------------------------------------------
FILTERS = ("id", "name", "label", "status", "network", "ancestor", "exited", "before", "since", "publish",
           "expose", "volume", "health", "isolation", "is-task")


@router.route("GET", "/containers/json")
def listing(req: Request) -> list[dict]:
    ctl = req.engine.controller
    f = Filters(req.query.get("filters"), FILTERS)
    rows = [summary(req, c) for c in ctl.containers.values()]
    rows = [r for r in rows if (req.flag("all") or r["State"] == "running" or "status" in f) and _matches(r, f)]
    rows.sort(key=lambda r: r["Created"], reverse=True)
    limit = int(req.query.get("limit") or -1)
    return rows[:limit] if limit > 0 else rows


def _matches(row: dict, f: Filters) -> bool:
    nets = row["NetworkSettings"]["Networks"]
    return (f.match("id", row["Id"]) and f.match("name", row["Names"][0]) and f.labels(row["Labels"])
            and f.exact("status", row["State"])
            and ("network" not in f or any(n in f.values("network") or e.get("NetworkID") in f.values("network")
                                           for n, e in nets.items()))
            and ("ancestor" not in f or images.base(row["Image"]) in {images.base(a) for a in f.values("ancestor")})
            and ("exited" not in f or (row["State"] == "exited"
                                       and row["Status"].split("(")[-1].rstrip(")") in f.values("exited"))))


@router.route("GET", "/containers/{id}/json")
def get(req: Request) -> dict:
    return view(req, req.engine.controller.container(req.params["id"]))


@router.route("DELETE", "/containers/{id}", status=204)
def remove(req: Request) -> None:
    ctl = req.engine.controller
    c = ctl.container(req.params["id"])
    ctl.remove_container(c.id, force=req.flag("force"))
    configs.get(req.engine, {}).pop(c.id, None)


# -- life cycle: the core's container life cycle does the work -------------------------
def _life_cycle(req: Request, method: str, *args, **kwargs):
    ctl = req.engine.controller
    c = ctl.container(req.params["id"])
    fn = getattr(ctl, method, None)
    if fn is None:
        raise NotImplementedHere(f"{method.replace('_container', '')} is not part of this lab's container "
                                 "life cycle: its containers run from create to rm")
    return fn(c.id, *args, **kwargs)


class NotImplementedHere(CnmError):
    status = 501


@router.route("POST", "/containers/{id}/start", status=204)
def start(req: Request) -> None:
    ctl = req.engine.controller
    if hasattr(ctl, "start_container"):
        _life_cycle(req, "start_container")
    else:
        ctl.container(req.params["id"])  # lab containers run from create on


@router.route("POST", "/containers/{id}/stop", status=204)
def stop(req: Request) -> None:
    _life_cycle(req, "stop_container")


@router.route("POST", "/containers/{id}/kill", status=204)
def kill(req: Request) -> None:
    _life_cycle(req, "kill_container")


@router.route("POST", "/containers/{id}/restart", status=204)
def restart(req: Request) -> None:
    _life_cycle(req, "restart_container")


@router.route("POST", "/containers/{id}/wait", kernel=False)
def wait(req: Request) -> dict:
    req.engine.call(req.engine.controller.container, req.params["id"])
    return {"StatusCode": 0, "Error": None}
