"""A service: N replica containers (tasks) on one network, reached by name through a VIP.

This module is plain data: the record, its JSON (after `docker service inspect`) and its
events. It imports nothing from the kernel layer, so fronts may import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import InvalidParameter
from ..events import Event, register
from ..sandbox import PortBinding

SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
ENDPOINT_MODES = ("vip", "dnsrr")
MAX_REPLICAS = 500


@dataclass
class Task:
    slot: int
    name: str  # the replica container: web.1, web.2, ...
    container_id: str


@dataclass
class Service:
    id: str
    name: str
    network_id: str
    replicas: int  # desired; len(tasks) is what runs
    created: str
    endpoint_mode: str = "vip"
    ports: list[PortBinding] = field(default_factory=list)
    vip: str | None = None  # an address from the network's IPAM pool (vip mode only)
    host: str | None = None  # where the replicas run (None: spread over the network's hosts)
    tasks: list[Task] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def free_slots(self, count: int) -> list[int]:
        """The lowest slot numbers not taken by a running task."""
        taken = {t.slot for t in self.tasks}
        out, slot = [], 1
        while len(out) < count:
            if slot not in taken:
                out.append(slot)
            slot += 1
        return out


def load(data: dict) -> Service:
    return Service(**{**data, "ports": [PortBinding(**p) for p in data.get("ports", [])],
                      "tasks": [Task(**t) for t in data.get("tasks", [])]})


def check_name(name: str) -> str:
    if not isinstance(name, str) or not SERVICE_NAME.match(name) or len(name) > 63:
        raise InvalidParameter(f"Invalid service name ({name}): use 1-63 letters, digits, '-' or '_', "
                               "starting with a letter or digit (no dots: replicas are NAME.SLOT)")
    return name


def check_replicas(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_REPLICAS:
        raise InvalidParameter(f"invalid replicas value {value!r}: use a whole number from 0 to {MAX_REPLICAS}")
    return value


def check_endpoint_mode(mode: str) -> str:
    if mode not in ENDPOINT_MODES:
        raise InvalidParameter(f"invalid endpoint mode {mode!r}: use vip or dnsrr")
    return mode


@register
@dataclass(frozen=True)
class ServiceCreated(Event):
    service: str
    id: str
    network: str
    replicas: int
    vip: str | None


@register
@dataclass(frozen=True)
class ServiceScaled(Event):
    service: str
    replicas: int
    running: int


@register
@dataclass(frozen=True)
class ServiceRemoved(Event):
    service: str
    id: str


@register
@dataclass(frozen=True)
class TaskReplaced(Event):
    """A replica was removed outside `service scale/rm`: the service put a new one in its slot."""

    service: str
    slot: int
    task: str  # the slot's name again: web.2
    old_id: str
    new_id: str
    host: str
