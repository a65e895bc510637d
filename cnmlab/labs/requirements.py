"""Which optional parts of cnmlab the running engine has: a lab that needs one it lacks is skipped
with that reason instead of failing. Everything is asked of the engine through the client."""

from __future__ import annotations

from ..client import Client
from ..errors import CnmError, NotFound

# API routes other parts of cnmlab add. Asked with a bodiless GET: the engine answers 404 for a
# route it lacks and 405 for one it has under another method.
ROUTES = {
    "probe": ("/lab/probe", "test packets (cnmlab probe)"),
    "trace": ("/lab/trace", "the hop-by-hop packet trace (cnmlab trace)"),
    "services": ("/services", "services with a VIP (cnmlab service)"),
    "plugins": ("/plugins/run", "remote driver plugins (cnmlab plugin run)"),
}


def missing(client: Client, feature: str, cache: dict | None = None) -> str | None:
    """None when the engine has `feature`, else one line saying what is missing."""
    cache = {} if cache is None else cache
    if feature not in cache:
        cache[feature] = _detect(client, feature)
    return cache[feature]


def _detect(client: Client, feature: str) -> str | None:
    if feature.startswith("driver:"):
        name = feature.split(":", 1)[1]
        drivers = sorted(d["Name"] for d in client.drivers())
        if name in drivers:
            return None
        return f"this cnmlab has no {name} driver (installed: {', '.join(drivers)})"
    path, what = ROUTES[feature]
    try:
        client.request("GET", path)
    except NotFound as exc:
        if exc.message.startswith("page not found"):
            return f"this cnmlab does not offer {what} yet"
    except CnmError:
        pass  # the route exists (405: it wants a POST)
    return None
