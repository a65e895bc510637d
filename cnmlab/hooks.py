"""The declared extension points of the core: what features (embedded DNS, services, Docker's
host config files) hook into, each a typed list they append to when the engine attaches them.

Lifecycle hooks run on the kernel thread, in order. A join hook that raises makes the join fail
and be rolled back (endpoint.py); leave and sandbox-removed hooks must not raise. Inspect
contributors add fields to the Docker-shaped JSON (docker_views.py). A driver adds to its own
networks' inspect through the driver contract instead (`Driver.inspect_network`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .controller import Controller
    from .endpoint import Endpoint
    from .network import Network
    from .sandbox import Container

    ContainerHook = Callable[[Container], None]
    EndpointHook = Callable[[Network, Endpoint, Container], None]
    LeaveHook = Callable[[Network, Endpoint, Container, bool], None]  # the last: teardown
    NetworkHook = Callable[[Network], None]
    NetworkInspect = Callable[[Controller, Network, dict, bool], None]  # the last: verbose
    ContainerInspect = Callable[[Controller, Container, dict], None]


@dataclass
class Hooks:
    sandbox_created: list[ContainerHook] = field(default_factory=list)
    sandbox_removed: list[ContainerHook] = field(default_factory=list)
    process_starting: list[ContainerHook] = field(default_factory=list)  # finish the sandbox for it
    joined: list[EndpointHook] = field(default_factory=list)
    left: list[LeaveHook] = field(default_factory=list)
    removing_network: list[NetworkHook] = field(default_factory=list)  # raise a CnmError to refuse
    network_removed: list[NetworkHook] = field(default_factory=list)
    network_inspect: list[NetworkInspect] = field(default_factory=list)
    container_inspect: list[ContainerInspect] = field(default_factory=list)

    @staticmethod
    def run(hooks: list[Callable[..., Any]], *args: Any) -> None:
        for hook in hooks:
            hook(*args)
