"""Docker's network routes: create, list (filters), inspect (verbose, scope), connect, disconnect,
remove and prune (filters). The JSON is the core's inspect view, the same as `cnmlab network inspect`."""

from __future__ import annotations

from ... import docker_views
from ...api import types
from ...errors import CnmError, InvalidParameter, NotFound
from ..router import Request
from .api import router
from .filters import Filters

HOST_LABEL = "cnmlab.host"  # places a local-scope network (or a container) on another simulated host


@router.route("POST", "/networks/create", status=201, body=types.NetworkCreate)
def create(req: Request) -> dict:
    spec: types.NetworkCreate = req.body
    if spec.ingress or spec.config_only or (spec.config_from and spec.config_from.network):
        raise InvalidParameter("ingress and config-only networks belong to swarm mode, which the lab does not run")
    ipam = spec.ipam or types.IPAM()
    configs = [c for c in ipam.config or [] if c != types.IPAMConfig()]
    if spec.enable_ipv6 or any(":" in (c.subnet or "") for c in configs):
        raise InvalidParameter("IPv6 networks are not supported in the lab: sandboxes keep IPv6 off")
    labels = spec.labels or {}
    # CheckDuplicate is always on: names are unique in the lab (Docker 25+ always checks too)
    args = spec.arguments()
    args["host"] = spec.host or labels.get(HOST_LABEL)
    net = req.engine.controller.create_network(**args)
    return {"Id": net.id, "Warning": ""}


def _matches(ctl, net, f: Filters) -> bool:
    used = any(e.network_id == net.id for e in ctl.endpoints.values())
    return (f.match("name", net.name) and f.match("id", net.id) and f.exact("driver", net.driver)
            and f.labels(net.labels) and f.exact("scope", net.scope)
            and f.exact("type", "builtin" if net.predefined else "custom")
            and ("dangling" not in f or (f.values("dangling")[0].lower() in ("1", "true")) != used))


@router.route("GET", "/networks")
def listing(req: Request) -> list[dict]:
    ctl = req.engine.controller
    f = Filters(req.query.get("filters"), ("name", "id", "driver", "label", "type", "scope", "dangling"))
    for kind in f.values("type"):
        if kind not in ("custom", "builtin"):
            raise InvalidParameter(f"invalid filter: 'type'='{kind}'")
    # since API 1.28 the list leaves out the attached containers; inspect shows them
    return [{**docker_views.network(ctl, net), "Containers": {}} for net in ctl.networks.values() if _matches(ctl, net, f)]


def _network(req: Request):
    ctl = req.engine.controller
    net = ctl.network(req.params["id"], req.query.get("host"))
    scope = req.query.get("scope")
    if scope and scope != net.scope:
        raise NotFound(f"network {req.params['id']} not found")
    return ctl, net


@router.route("GET", "/networks/{id}")
def get(req: Request) -> dict:
    ctl, net = _network(req)
    return docker_views.network(ctl, net, verbose=req.flag("verbose"))


@router.route("DELETE", "/networks/{id}", status=204)
def remove(req: Request) -> None:
    ctl, net = _network(req)
    ctl.remove_network(net.id)


@router.route("POST", "/networks/{id}/connect", body=types.NetworkConnect)
def connect(req: Request) -> None:
    ctl = req.engine.controller
    spec: types.NetworkConnect = req.body
    cfg = spec.endpoint_config or types.EndpointSettings()
    if cfg.ipam_config and cfg.ipam_config.ipv6_address:
        raise InvalidParameter("IPv6 addresses are not supported in the lab: sandboxes keep IPv6 off")
    c = ctl.container(spec.container)
    ctl.connect(req.params["id"], c.id, ip=cfg.ip, aliases=list(cfg.aliases or []), mac=cfg.mac_address or None)
    asked = c.networks[-1]  # the config the connect recorded: joined again at every start
    asked.links, asked.driver_opts = endpoint_extras(cfg)
    ctl.store.put(c)


def endpoint_extras(cfg: types.EndpointSettings) -> tuple[list[str] | None, dict[str, str] | None]:
    """EndpointConfig's Links and DriverOpts: recorded and shown by inspect; no lab driver uses them."""
    return list(cfg.links or []) or None, dict(cfg.driver_opts or {}) or None


@router.route("POST", "/networks/{id}/disconnect", body=types.NetworkDisconnect)
def disconnect(req: Request) -> None:
    req.engine.controller.disconnect(req.params["id"], req.body.container, force=req.body.force)


@router.route("POST", "/networks/prune")
def prune(req: Request) -> dict:
    ctl = req.engine.controller
    f = Filters(req.query.get("filters"), ("until", "label", "label!"))
    used = {e.network_id for e in ctl.endpoints.values()}
    deleted = []
    for net in [n for n in ctl.networks.values() if not n.predefined and n.id not in used]:
        if not f.labels(net.labels) or any(_has_label(net.labels, want) for want in f.values("label!")):
            continue
        if "until" in f and net.created > _timestamp(f.values("until")[0]):
            continue
        try:
            ctl.remove_network(net.id)  # a network a feature still claims (a service's) is skipped
        except CnmError:
            continue
        deleted.append(net.name)
    return {"NetworksDeleted": deleted}


def _has_label(labels: dict[str, str], want: str) -> bool:
    key, sep, value = want.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _timestamp(value: str) -> str:
    """`until` as a unix time (what the CLI sends) or an RFC 3339 date, as the core's sortable text."""
    import datetime

    try:
        when = datetime.datetime.fromtimestamp(float(value), datetime.timezone.utc)
    except ValueError:
        try:
            when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidParameter(f"invalid filter 'until={value}'") from None
    return when.isoformat().replace("+00:00", "Z")
