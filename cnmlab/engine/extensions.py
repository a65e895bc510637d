"""Feature modules that extend the engine: each registers routes and may hook the controller.

A feature module has an optional `attach(engine)` called on the kernel thread before the lab is
built or restored; importing it registers its routes.
"""

import importlib

FEATURES: list[str] = [
    "cnmlab.engine.batch",  # POST/DELETE /lab/apply: a whole topology in one request
    "cnmlab.dns.feature",  # the embedded DNS server at 127.0.0.11 (GET /dns)
    "cnmlab.swarm.feature",  # services: replicas, VIP, routing mesh (/services); after dns
    "cnmlab.probe.routes",  # test packets, reachability matrix, hop-by-hop trace (POST /lab/probe ...)
    "cnmlab.engine.plugin_routes",  # third-party drivers: GET /plugins, POST /plugins/run, /plugins/{ref}/stop
    "cnmlab.engine.stream_routes",  # start/stop/kill/restart/wait, logs, attach, exec: a container's life and streams
    "cnmlab.engine.namespace_routes",  # GET /lab/namespaces: every namespace of the world, with its kind
    "cnmlab.engine.docker",  # Docker's Engine API (/v1.N/...): records Docker-shaped events for /events
]


def load(engine) -> None:
    for name in FEATURES:
        module = importlib.import_module(name)
        attach = getattr(module, "attach", None)
        if attach is not None:
            attach(engine)
