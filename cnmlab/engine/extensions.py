"""The features the engine hosts, named once, in the order they attach, and what they provide.

Each feature module declares its routes on the API's route table (api/router.py) when it is
imported, and has an optional `attach(engine)`, called on the kernel thread before the lab is built
or restored, which hooks the controller's lifecycle and inspect views (`ctl.hooks`, hooks.py) and
provides its objects here by type (`engine.extensions.provide(dns)`; a route asks
`req.engine.extensions.get(EmbeddedDns)`), so no feature sets attributes on the engine.
"""

from __future__ import annotations

from typing import TypeVar

from ..dns import feature as dns_feature
from ..probe import routes as probe_routes
from ..swarm import feature as swarm_feature
from . import batch, docker, namespace_routes, plugin_routes, stream_routes

T = TypeVar("T")

FEATURES = (
    batch,  # POST/DELETE /lab/apply: a whole topology in one request
    dns_feature,  # the embedded DNS server at 127.0.0.11 (GET /dns)
    swarm_feature,  # services: replicas, VIP, routing mesh (/services); after dns, whose names it adds to
    probe_routes,  # test packets, reachability matrix, hop-by-hop trace (POST /lab/probe ...)
    plugin_routes,  # third-party drivers: GET /plugins, POST /plugins/run, /plugins/{ref}/stop
    stream_routes,  # start/stop/kill/restart/wait, logs, attach, exec: a container's life and streams
    namespace_routes,  # GET /lab/namespaces: every namespace of the world, with its kind
    docker,  # Docker's Engine API (/v1.N/...): Docker-shaped events; Dns/ExtraHosts after the DNS feature
)


class Extensions:
    """The features' objects (the DNS server, the service manager, the plugin runner ...), by type."""

    def __init__(self) -> None:
        self._by_type: dict[type, object] = {}

    def provide(self, obj: T) -> T:
        self._by_type[type(obj)] = obj
        return obj

    def find(self, cls: type[T]) -> T | None:
        return self._by_type.get(cls)  # type: ignore[return-value]

    def get(self, cls: type[T]) -> T:
        obj = self.find(cls)
        if obj is None:
            raise LookupError(f"the engine has no {cls.__name__}: its feature is not attached")
        return obj


def load(engine) -> None:
    for module in FEATURES:
        attach = getattr(module, "attach", None)
        if attach is not None:
            attach(engine)
