"""Docker's container routes: create (the request's network, port and host settings), list
(`all`, filters), inspect and remove, in Docker's shapes. The life cycle (start, stop, kill,
restart, wait, logs, attach, exec) is the core's, served by engine/stream_routes.py."""

from __future__ import annotations

import datetime
import os
import subprocess

from ... import container as lifecycle
from ... import docker_views, image
from ...api import types
from ...errors import Conflict, InvalidParameter, NotFound
from ...sandbox import SHARED_PREFIX, PortBinding
from ..kernel_thread import READ
from ..router import Request
from . import images
from .api import router
from .filters import Filters
from .networks import HOST_LABEL, endpoint_extras


# -- create -----------------------------------------------------------------------
@router.route("POST", "/containers/create", status=201, body=types.ContainerCreate)
def create(req: Request) -> dict:
    ctl = req.engine.controller
    spec: types.ContainerCreate = req.body
    host_cfg = spec.host_config or types.HostConfig()
    labels = spec.labels or {}
    networks, endpoints = spec.networks()
    if (host_cfg.network_mode or "").startswith(SHARED_PREFIX):
        _check_shared(spec, host_cfg)
    if len(networks) > 1 and req.api_version and tuple(map(int, req.api_version.split("."))) < (1, 44):
        raise InvalidParameter(f"Container cannot be connected to network endpoints: {', '.join(networks)}.")
    host = spec.host or labels.get(HOST_LABEL)
    for name in networks:
        if not name.startswith(SHARED_PREFIX):
            _known_network(ctl, name, host)
    args = spec.arguments(req.query.get("name"))
    args.update(host=host, ports=_port_bindings(spec, host_cfg))
    c = ctl.create_container(**args)
    c.host_config = {key: list(value) for key, value in (("Dns", host_cfg.dns), ("DnsSearch", host_cfg.dns_search),
                                                         ("DnsOptions", host_cfg.dns_options),
                                                         ("ExtraHosts", host_cfg.extra_hosts)) if value}
    for cfg in c.networks:
        asked = endpoints.get(ctl.networks[cfg.network].name) or endpoints.get(cfg.network)
        if asked is not None:
            cfg.links, cfg.driver_opts = endpoint_extras(asked)
    ctl.store.put(c)
    return {"Id": c.id, "Warnings": []}


def _check_shared(spec: types.ContainerCreate, host_cfg: types.HostConfig) -> None:
    """What Docker refuses with `container:NAME` besides what the core checks (hostname, MAC,
    ports): the sandbox's names and resolver are NAME's."""
    if host_cfg.links:
        raise InvalidParameter("conflicting options: container type network can't be used with links. This would "
                               "result in undefined behavior")
    if host_cfg.dns:
        raise InvalidParameter("conflicting options: dns and the network mode")
    if host_cfg.extra_hosts:
        raise InvalidParameter("conflicting options: custom host-to-IP mapping and the network mode")
    if spec.exposed_ports and not host_cfg.port_bindings and not host_cfg.publish_all_ports:
        raise InvalidParameter("conflicting options: port exposing and the container type network mode")


def _known_network(ctl, name: str, host: str | None) -> None:
    """A missing network is a bad request here: the CLI takes a 404 from create for a missing
    image and would try to pull it (dockerd finds out later, at start)."""
    try:
        ctl.network(name, host)
    except NotFound as exc:
        raise InvalidParameter(exc.message) from None


def _port_bindings(spec: types.ContainerCreate, host_cfg: types.HostConfig) -> list[PortBinding]:
    wanted = {key: list(bindings or [types.PortBinding()]) for key, bindings in (host_cfg.port_bindings or {}).items()}
    if host_cfg.publish_all_ports:  # -P: every exposed port, the image's too, on an ephemeral port
        for key in [*image.exposed_ports(spec.image), *(spec.exposed_ports or {})]:
            wanted.setdefault(key if "/" in key else f"{key}/tcp", [types.PortBinding()])
    out = []
    for key, bindings in wanted.items():
        cport, _, proto = key.partition("/")
        proto = proto or "tcp"
        if not cport.isdigit() or proto not in ("tcp", "udp"):
            raise InvalidParameter(f"invalid port specification: \"{key}\" (the lab publishes tcp and udp ports)")
        for b in bindings:
            if b.host_port and not b.host_port.isdigit():
                raise InvalidParameter(f"invalid host port \"{b.host_port}\" for {key}: the lab takes one port "
                                       "or none (an ephemeral port), not a range")
            out.append(PortBinding(int(b.host_port or 0), int(cport), proto,
                                   "" if b.host_ip == "0.0.0.0" else b.host_ip, ephemeral=not b.host_port))
    return out


# -- views ------------------------------------------------------------------------
def _unix(text: str) -> int:
    try:
        return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def _fill(data: dict, defaults: dict) -> None:
    for key, value in defaults.items():
        if data.get(key) is None:
            data[key] = value


def view(ctl, c) -> dict:
    """`docker inspect`: the core's view, completed with the fields Docker's clients read."""
    data = docker_views.container(ctl, c)
    data["Image"] = images.image_id(c.image or "")  # Docker shows the image's id here, its name in Config
    _fill(data, {"ResolvConfPath": "", "HostnamePath": "", "HostsPath": "", "RestartCount": 0, "Driver": "cnmlab",
                 "Platform": "linux", "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "Mounts": [],
                 "GraphDriver": {"Name": "cnmlab", "Data": None}})
    config = data["Config"]
    _fill(config, {"Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
                   "ExposedPorts": {f"{p.container_port}/{p.proto}": {} for p in c.ports}
                   or images.config(c.image)["ExposedPorts"], "Volumes": None, "WorkingDir": "", "OnBuild": None})
    data["HostConfig"].update(c.host_config)
    _fill(data["HostConfig"], {"Dns": [], "DnsSearch": [], "DnsOptions": [], "ExtraHosts": None, "Links": None,
                               "PublishAllPorts": False, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                               "LogConfig": {"Type": "json-file", "Config": {}}})  # the core keeps json-file logs
    _fill(data["NetworkSettings"], {"Bridge": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
                                    "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None,
                                    "SecondaryIPv6Addresses": None, "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                                    "IPv6Gateway": ""})
    for ep in data["NetworkSettings"]["Networks"].values():
        _fill(ep, {"IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0})
    return data


def summary(ctl, c) -> dict:
    """One row of `docker ps`."""
    data = view(ctl, c)
    row = docker_views.container_summary(ctl, c)
    row.update({"ImageID": data["Image"], "Created": _unix(c.created), "Mounts": [],
                "NetworkSettings": {"Networks": data["NetworkSettings"]["Networks"] if c.running else {}}})
    row["Image"] = row["Image"] or "cnmlab"
    return row


# -- list, inspect, remove ------------------------------------------------------------
FILTERS = ("id", "name", "label", "status", "network", "ancestor", "exited", "before", "since", "publish",
           "expose", "volume", "health", "isolation", "is-task")


@router.route("GET", "/containers/json")
def listing(req: Request) -> list[dict]:
    ctl = req.engine.controller
    f = Filters(req.query.get("filters"), FILTERS)
    chosen = [c for c in ctl.containers.values()
              if (req.flag("all") or c.running or c.state.status == "restarting" or "status" in f) and _matches(ctl, c, f)]
    rows = [summary(ctl, c) for c in sorted(chosen, key=lambda c: c.created, reverse=True)]  # newest first
    limit = int(req.query.get("limit") or -1)
    return rows[:limit] if limit > 0 else rows


def _matches(ctl, c, f: Filters) -> bool:
    nets = {ctl.networks[cfg.network].name: cfg.network for cfg in c.networks if cfg.network in ctl.networks}
    return (f.match("id", c.id) and f.match("name", "/" + c.name) and f.labels(c.labels)
            and f.exact("status", c.state.status)
            and ("network" not in f or any(v in nets or v in nets.values() for v in f.values("network")))
            and ("ancestor" not in f or image.base_name(c.image) in {image.base_name(a) for a in f.values("ancestor")})
            and ("exited" not in f or (c.state.status == "exited" and str(c.state.exit_code) in f.values("exited"))))


@router.route("GET", "/containers/{id}/json")
def get(req: Request) -> dict:
    ctl = req.engine.controller
    return view(ctl, ctl.container(req.params["id"]))


@router.route("POST", "/containers/prune")
def prune(req: Request) -> dict:
    ctl = req.engine.controller
    f = Filters(req.query.get("filters"), ("until", "label", "label!"))
    deleted = []
    for c in [c for c in ctl.containers.values() if not c.running and f.labels(c.labels)]:
        ctl.remove_container(c.id)
        deleted.append(c.id)
    return {"ContainersDeleted": deleted, "SpaceReclaimed": 0}


# -- update and top ------------------------------------------------------------------
@router.route("POST", "/containers/{id}/update", body=types.ContainerUpdate)
def update(req: Request) -> dict:
    ctl = req.engine.controller
    c = ctl.container(req.params["id"])
    spec: types.ContainerUpdate = req.body or types.ContainerUpdate()
    if spec.restart_policy is not None:
        lifecycle.update_restart_policy(ctl, c, spec.restart_policy.name, spec.restart_policy.maximum_retry_count)
    return {"Warnings": []}


@router.route("GET", "/containers/{id}/top", kernel=False)
def top(req: Request) -> dict:
    """`docker top`: the main process and what it started (the lab shares the machine's PID
    namespace, so this is `ps` filtered to them; the test services that stand in have none)."""
    ctl = req.engine.controller
    c = req.engine.call(ctl.container, req.params["id"], holds=READ)
    if not c.running:
        raise Conflict(f"Container {c.id} is not running")
    args = (req.query.get("ps_args") or "-ef").split()
    done = subprocess.run(["ps", *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise InvalidParameter(f"ps: {done.stderr.strip() or 'failed'}")
    lines = done.stdout.splitlines()
    titles = lines[0].split() if lines else []
    if "PID" not in titles:
        raise InvalidParameter("Couldn't find PID field in ps output")
    at, ours = titles.index("PID"), _family(c.state.pid)
    rows = [line.split(None, len(titles) - 1) for line in lines[1:]]
    return {"Titles": titles, "Processes": [r for r in rows if len(r) > at and r[at].isdigit() and int(r[at]) in ours]}


def _family(pid: int) -> set[int]:
    """pid and its descendants, from /proc."""
    if not pid:
        return set()
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    family, todo = set(), [pid]
    while todo:
        p = todo.pop()
        family.add(p)
        todo.extend(children.get(p, []))
    return family
