"""A whole topology in one request: `POST /lab/apply` builds networks and containers, and
`DELETE /lab/apply` takes the same description down again.

One request instead of one per container saves the HTTP round trip (about 0.7 ms each) and
lets the store write the whole topology in one transaction. All or nothing: if any item fails,
what this request already made is removed again and the error names the item.

Body: cnmlab.api.types.Topology ({"Networks": [...], "Containers": [...]}).
"""

from __future__ import annotations

import contextlib

from ..api import types
from ..errors import CnmError, NotFound
from .router import Request, router


def _topology(req: Request) -> tuple[list[types.TopologyNetwork], list[types.TopologyContainer]]:
    topology: types.Topology = req.body
    return list(topology.networks or []), list(topology.containers or [])


@router.route("POST", "/lab/apply", status=201, body=types.Topology)
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


def _build(ctl, networks: list[types.TopologyNetwork], containers: list[types.TopologyContainer],
           made_networks: list[str], made_containers: list[str], where: list[str]) -> None:
    for net_spec in networks:
        where.append(f"network {net_spec.name}")
        made_networks.append(ctl.create_network(**net_spec.arguments()).id)
    for ctr_spec in containers:
        where.append(f"container {ctr_spec.name}")
        made_containers.append(ctl.run_container(**ctr_spec.arguments()).id)  # create and start


@router.route("DELETE", "/lab/apply", status=200, body=types.Topology)
def unapply(req: Request):
    """Remove the containers, then the networks, that a topology names (missing ones are skipped)."""
    ctl = req.engine.controller
    networks, containers = _topology(req)
    removed_networks = removed_containers = 0
    with ctl.store.batch():
        for ctr_spec in containers:
            with contextlib.suppress(NotFound):
                ctl.remove_container(ctr_spec.name, force=True)
                removed_containers += 1
        for net_spec in networks:
            with contextlib.suppress(NotFound):
                ctl.remove_network(net_spec.name)
                removed_networks += 1
    return {"Networks": removed_networks, "Containers": removed_containers}


def _undo(ctl, containers: list[str], networks: list[str]) -> None:
    for cid in reversed(containers):
        with contextlib.suppress(CnmError):
            ctl.remove_container(cid, force=True)
    for nid in reversed(networks):
        with contextlib.suppress(CnmError):
            ctl.remove_network(nid)
    ctl.kernel.settle()  # the error goes out with the sandboxes' unmounts done
