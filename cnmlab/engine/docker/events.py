"""`/events` in Docker's shape: the core's typed events become Docker's messages (Type, Action,
Actor.ID, Actor.Attributes, time, timeNano), recorded so `since` can replay them, and filtered
as dockerd filters them."""

from __future__ import annotations

import collections
import datetime
import json
import queue
import threading
import time

from ... import events as core
from ...errors import InvalidParameter
from ..router import Request
from .api import router
from .filters import Filters

HISTORY = 1000  # dockerd keeps the last 1000 events for `since` too


class Recorder:
    """Turns core events into Docker's, on the kernel thread (where the lab's names resolve)."""

    def __init__(self, ctl):
        self.ctl = ctl
        self.history: collections.deque = collections.deque(maxlen=HISTORY)
        self.listeners: list[queue.Queue] = []
        self.lock = threading.Lock()
        self._drivers: dict[str, str] = {n.id: n.driver for n in ctl.networks.values()}
        self._containers: dict[str, tuple[str, dict, str]] = {n.id: (n.name, dict(n.labels), _image(n))
                                                               for n in ctl.containers.values()}

    def on_event(self, event: core.Event) -> None:
        message = self.translate(event)
        if message is None:
            return
        with self.lock:
            self.history.append(message)
            for q in self.listeners:
                q.put(message)

    def translate(self, event: core.Event) -> dict | None:
        ctl = self.ctl
        if isinstance(event, core.NetworkCreated):
            self._drivers[event.id] = event.driver
            return _message(event, "network", "create", event.id, {"name": event.network, "type": event.driver})
        if isinstance(event, core.NetworkRemoved):
            return _message(event, "network", "destroy", event.id,
                            {"name": event.network, "type": self._drivers.pop(event.id, "")})
        if isinstance(event, (core.EndpointJoined, core.EndpointLeft)):
            c = ctl.containers.by_name.get(event.container)  # not a walk over every container
            net = _network(ctl, event.network, c.host if c else None)
            if c is None or net is None:
                return None
            action = "connect" if isinstance(event, core.EndpointJoined) else "disconnect"
            return _message(event, "network", action, net.id,
                            {"container": c.id, "name": net.name, "type": net.driver})
        if isinstance(event, core.ContainerCreated):
            c = ctl.containers.get(event.id)
            self._containers[event.id] = (event.container, dict(c.labels) if c else {}, _image(c) if c else "")
            return self._container(event, "create", event.id)
        if isinstance(event, core.ContainerRemoved):
            message = self._container(event, "destroy", event.id)
            self._containers.pop(event.id, None)
            return message
        action = CONTAINER_ACTIONS.get(type(event).__name__)
        if action and getattr(event, "id", None):  # the life cycle's events (start, die, stop, kill ...)
            return self._container(event, action, event.id)
        return None

    def _container(self, event, action: str, cid: str) -> dict:
        c = self.ctl.containers.get(cid)  # gone at destroy: then what was kept at create
        name, labels, image = self._containers.get(cid) or ((c.name, dict(c.labels), _image(c)) if c else ("", {}, ""))
        attributes = {**labels, "image": image, "name": name}
        if getattr(event, "exit_code", None) is not None:
            attributes["exitCode"] = str(event.exit_code)
        if getattr(event, "signal", None) is not None:
            attributes["signal"] = str(event.signal)
        message = _message(event, "container", action, cid, attributes)
        message.update({"status": action, "id": cid, "from": image})  # the fields before API 1.22
        return message


# the core's life-cycle events, and Docker's action for each
CONTAINER_ACTIONS = {"ContainerStarted": "start", "ContainerDied": "die", "ContainerStopped": "stop",
                     "ContainerKilled": "kill", "ContainerRestarted": "restart"}


RECORDED = (core.NetworkCreated, core.NetworkRemoved, core.EndpointJoined, core.EndpointLeft,
            core.ContainerCreated, core.ContainerRemoved, *(getattr(core, name) for name in CONTAINER_ACTIONS))


def _image(c) -> str:
    return getattr(c, "image", "") or ""


def _network(ctl, name: str, host: str | None):
    for net in ctl.networks.values():
        if net.name == name and (net.host is None or host is None or net.host == host):
            return net
    return None


def _message(event, kind: str, action: str, actor: str, attributes: dict) -> dict:
    nanos = int(event.time * 1e9)
    return {"Type": kind, "Action": action, "Actor": {"ID": actor, "Attributes": attributes},
            "scope": "local", "time": nanos // 1_000_000_000, "timeNano": nanos}


def attach(engine) -> None:
    recorder = engine.extensions.provide(Recorder(engine.controller))
    engine.controller.subscribe(recorder.on_event, *RECORDED)


# -- the route --------------------------------------------------------------------
FILTERS = ("type", "event", "container", "network", "label", "image", "scope", "daemon", "volume", "plugin",
           "node", "service", "secret", "config")


def _when(value: str | None, name: str) -> float | None:
    """A unix time with optional fraction (what the CLI sends), or an RFC 3339 date."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise InvalidParameter(f"invalid value for {name}: {value}") from None


def _wanted(message: dict, f: Filters) -> bool:
    actor = message["Actor"]
    attrs = actor["Attributes"]
    ctr = attrs.get("container") if message["Type"] == "network" else actor["ID"]
    ctr_name = attrs.get("name", "") if message["Type"] == "container" else ""
    return (f.exact("type", message["Type"]) and f.exact("event", message["Action"])
            and f.exact("scope", message["scope"])
            and ("container" not in f or any(v in (ctr_name,) or (ctr and ctr.startswith(v))
                                             for v in f.values("container")))
            and ("network" not in f or (message["Type"] == "network"
                                        and any(v == attrs.get("name") or actor["ID"].startswith(v)
                                                for v in f.values("network"))))
            and ("image" not in f or attrs.get("image") in f.values("image"))
            and f.labels({k: v for k, v in attrs.items()}))


@router.route("GET", "/events", kernel=False, streaming=True)
def stream(req: Request) -> None:
    recorder = req.engine.extensions.get(Recorder)
    f = Filters(req.query.get("filters"), FILTERS)
    since, until = _when(req.query.get("since"), "since"), _when(req.query.get("until"), "until")
    q: queue.Queue = queue.Queue()
    with recorder.lock:
        past = list(recorder.history) if since is not None else []
        recorder.listeners.append(q)
    try:
        req.stream(b"")
        for message in past:
            if message["timeNano"] >= since * 1e9 and (until is None or message["timeNano"] <= until * 1e9):
                _send(req, message, f)
        while not req.engine._stopping.is_set() and (until is None or time.time() <= until):
            try:
                message = q.get(timeout=0.5 if until is None else max(0.01, min(0.5, until - time.time())))
            except queue.Empty:
                continue
            if since is not None and message["timeNano"] < since * 1e9:
                continue
            if until is not None and message["timeNano"] > until * 1e9:
                break
            _send(req, message, f)
    except OSError:
        pass
    finally:
        with recorder.lock:
            recorder.listeners.remove(q)


def _send(req: Request, message: dict, f: Filters) -> None:
    if _wanted(message, f):
        req.stream((json.dumps(message) + "\n").encode())
