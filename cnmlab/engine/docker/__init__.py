"""The Docker Engine API on the engine's socket, so Docker's own tools (the docker CLI, docker-py,
docker-compose) drive the lab.

`api.py` finds a route for `/v1.N/...` and unversioned paths; one module per Docker object:
`system.py` (_ping, version, info), `networks.py`, `containers.py`, `images.py` (any image name
answers, nothing is pulled), `events.py` (Docker-shaped events with filters, since, until) and
`absent.py` (what an engine without swarm, volumes or builds answers). cnmlab's own routes
(engine/routes.py) stay as they are; Docker's shapes are built here from the core's views.
"""

from ...dns import host_config
from . import absent, containers, events, images, networks, system  # noqa: F401  (register routes)


def attach(engine) -> None:
    """The engine's feature hook (kernel thread, before the lab is built or restored)."""
    events.attach(engine)  # record Docker-shaped events for /events
    host_config.attach(engine.controller)  # Dns/ExtraHosts: after the DNS feature, whose resolv.conf it amends
