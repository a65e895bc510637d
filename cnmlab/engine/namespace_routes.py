"""GET /lab/namespaces: every network namespace of the lab world, with what it is.

Containers and hosts are found by name through their own routes; this list also holds the
namespaces no container or host names, such as an overlay network's `1-<id10>@<host>`, so
`cnmlab shell` / `cnmlab exec` can enter them too.
"""

from __future__ import annotations

from ..drivers.overlay import sandbox_name
from ..osl import netns
from ..underlay import NAMESPACE as UNDERLAY
from .router import Request, router


def kinds(ctl) -> dict[str, str]:
    """What the lab knows each namespace to be (by name)."""
    known = {UNDERLAY: "underlay"}
    known.update({h.netns: "host" for h in ctl.hosts.values()})
    known.update({c.netns: "container" for c in ctl.containers.values() if c.network_mode != "host"})
    for net in ctl.networks.values():
        if net.driver == "overlay":
            known.update({sandbox_name(net.id, h.name): "network" for h in ctl.hosts.values()})
    return known


@router.route("GET", "/lab/namespaces")
def namespaces(req: Request):
    known = kinds(req.engine.controller)
    names = netns.listed()
    return [{"Name": name, "Kind": known.get(name, "other")} for name in names]
