"""Typed events from the core to the fronts. Fronts receive them through the engine's stream."""

import time
from dataclasses import asdict, dataclass, field, fields


@dataclass(frozen=True)
class Event:
    time: float = field(default_factory=time.time, kw_only=True)

    def to_json(self) -> dict:
        return {"Type": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class HostAdded(Event):
    host: str
    address: str


@dataclass(frozen=True)
class HostRemoved(Event):
    host: str


@dataclass(frozen=True)
class NetworkCreated(Event):
    network: str
    id: str
    driver: str


@dataclass(frozen=True)
class NetworkRemoved(Event):
    network: str
    id: str


@dataclass(frozen=True)
class ContainerCreated(Event):
    container: str
    id: str
    host: str


@dataclass(frozen=True)
class ContainerRemoved(Event):
    container: str
    id: str


@dataclass(frozen=True)
class ContainerStarted(Event):
    """Its sandbox is built, its networks joined and its main process runs (pid 0: the test services)."""

    container: str
    id: str
    pid: int = 0


@dataclass(frozen=True)
class ContainerDied(Event):
    """Its main process exited (Docker's `die`); its endpoints and sandbox are released."""

    container: str
    id: str
    exit_code: int


@dataclass(frozen=True)
class ContainerKilled(Event):
    container: str
    id: str
    signal: int


@dataclass(frozen=True)
class ContainerStopped(Event):
    container: str
    id: str


@dataclass(frozen=True)
class ContainerRestarted(Event):
    container: str
    id: str


@dataclass(frozen=True)
class EndpointJoined(Event):
    container: str
    network: str
    interface: str
    address: str


@dataclass(frozen=True)
class EndpointLeft(Event):
    container: str
    network: str
    interface: str


@dataclass(frozen=True)
class StepDone(Event):
    """One named build step, in the words a student can follow ("created veth ...")."""

    where: str
    step: str


@dataclass(frozen=True)
class LabReset(Event):
    pass


@dataclass(frozen=True)
class LabRestored(Event):
    hosts: int
    networks: int
    containers: int


_TYPES: dict[str, type[Event]] = {}


def register(cls: type[Event]) -> type[Event]:
    """Make an event type known to `from_json` (drivers and features add their own)."""
    _TYPES[cls.__name__] = cls
    return cls


for _cls in (HostAdded, HostRemoved, NetworkCreated, NetworkRemoved, ContainerCreated, ContainerRemoved,
             ContainerStarted, ContainerDied, ContainerKilled, ContainerStopped, ContainerRestarted, EndpointJoined, EndpointLeft, StepDone, LabReset, LabRestored):
    register(_cls)


def from_json(data: dict) -> Event | dict:
    """The typed event for a stream record; an unknown type stays a plain dict."""
    cls = _TYPES.get(data.get("Type", ""))
    if cls is None:
        return data
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
