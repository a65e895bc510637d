"""A whole topology in one request: `POST /lab/apply` builds networks and containers, and
`DELETE /lab/apply` takes the same description down again.

One request instead of one per container saves the HTTP round trip (about 0.7 ms each) and
lets the store write the whole topology in one transaction. All or nothing: if any item fails,
what this request already made is removed again and the error names the item.

Body: {"Networks": [{"Name", "Driver", "Subnet", "Gateway", "IPRange", "Internal", "Options",
"Labels", "Host"}], "Containers": [{"Name", "Network", "IP", "Aliases", "Ports", "Host", "Labels"}]}
"""

from __future__ import annotations

import contextlib

from ..errors import CnmError, InvalidParameter, NotFound
from .router import Request, router

NETWORK_KEYS = {"Name", "Driver", "Subnet", "Gateway", "IPRange", "Internal", "Attachable", "Options", "Labels", "Host"}
CONTAINER_KEYS = {"Name", "Network", "IP", "Aliases", "Ports", "Host", "Labels"}


def _items(req: Request, key: str, allowed: set[str]) -> list[dict]:
    items = req.field(key) or []
    if not isinstance(items, list):
        raise InvalidParameter(f"{key} must be a list of objects")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise InvalidParameter(f"{key}[{i}] must be an object with a Name")
        unknown = sorted(set(item) - allowed)
        if unknown:
            raise InvalidParameter(f"{key}[{i}] ({item['Name']}): unknown field {unknown[0]} "
                                   f"(known: {', '.join(sorted(allowed))})")
    return items


def _strings(value, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"{what} must be an object of string keys and values")
    return {str(k): str(v) for k, v in value.items()}


def _topology(req: Request) -> tuple[list[dict], list[dict]]:
    if req.body is not None and not isinstance(req.body, dict):
        raise InvalidParameter("the request body must be a JSON object with Networks and Containers")
    return _items(req, "Networks", NETWORK_KEYS), _items(req, "Containers", CONTAINER_KEYS)


@router.route("POST", "/lab/apply", status=201)
def apply(req: Request):
    ctl = req.engine.controller
    networks, containers = _topology(req)
    made_networks: list[str] = []
    made_containers: list[str] = []
    where = ["the topology"]  # the item being made, for the error message
    with ctl.store.batch():
        try:
            _build(ctl, networks, containers, made_networks, made_containers, where)
        except CnmError as exc:
            _undo(ctl, made_containers, made_networks)
            raise type(exc)(f"{where[-1]}: {exc.message} (nothing was applied)") from None
        except BaseException:
            _undo(ctl, made_containers, made_networks)
            raise
    return {"Networks": len(made_networks), "Containers": len(made_containers)}


def _build(ctl, networks: list[dict], containers: list[dict], made_networks: list[str],
           made_containers: list[str], where: list[str]) -> None:
    for spec in networks:
        where.append(f"network {spec['Name']}")
        net = ctl.create_network(
            spec["Name"], driver=spec.get("Driver") or "bridge", subnet=spec.get("Subnet"),
            gateway=spec.get("Gateway"), ip_range=spec.get("IPRange"),
            internal=bool(spec.get("Internal", False)), attachable=bool(spec.get("Attachable", False)),
            options=_strings(spec.get("Options"), f"{where[-1]}: Options"),
            labels=_strings(spec.get("Labels"), f"{where[-1]}: Labels"), host=spec.get("Host"))
        made_networks.append(net.id)
    for spec in containers:
        where.append(f"container {spec['Name']}")
        c = ctl.run_container(
            spec["Name"], network=spec.get("Network"), ip=spec.get("IP"),
            aliases=list(spec.get("Aliases") or []), ports=list(spec.get("Ports") or []),
            host=spec.get("Host"), labels=_strings(spec.get("Labels"), f"{where[-1]}: Labels"))
        made_containers.append(c.id)


@router.route("DELETE", "/lab/apply", status=200)
def unapply(req: Request):
    """Remove the containers, then the networks, that a topology names (missing ones are skipped)."""
    ctl = req.engine.controller
    networks, containers = _topology(req)
    removed_networks = removed_containers = 0
    with ctl.store.batch():
        for spec in containers:
            with contextlib.suppress(NotFound):
                ctl.remove_container(spec["Name"], force=True)
                removed_containers += 1
        for spec in networks:
            with contextlib.suppress(NotFound):
                ctl.remove_network(spec["Name"])
                removed_networks += 1
    return {"Networks": removed_networks, "Containers": removed_containers}


def _undo(ctl, containers: list[str], networks: list[str]) -> None:
    for cid in reversed(containers):
        with contextlib.suppress(CnmError):
            ctl.remove_container(cid, force=True)
    for nid in reversed(networks):
        with contextlib.suppress(CnmError):
            ctl.remove_network(nid)
