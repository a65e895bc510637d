"""Engine events as sentences: one line per event, for the events screen and the header."""

from __future__ import annotations

import time
from dataclasses import fields, is_dataclass

from rich.text import Text

from .. import events as ev

STYLES = {"Created": "green", "Added": "green", "Joined": "cyan", "Removed": "red", "Left": "yellow",
          "Reset": "bold red", "Restored": "bold green"}


def describe(event) -> str:
    """One sentence for an event (typed events from cnmlab.events; unknown ones as their fields)."""
    match event:
        case ev.HostAdded(host=h, address=a):
            return f"host {h} joined the underlay at {a}"
        case ev.HostRemoved(host=h):
            return f"host {h} left the underlay"
        case ev.NetworkCreated(network=n, driver=d):
            return f"network {n} created (driver {d})"
        case ev.NetworkRemoved(network=n):
            return f"network {n} removed"
        case ev.ContainerCreated(container=c, host=h):
            return f"sandbox {c} created on {h}"
        case ev.ContainerRemoved(container=c):
            return f"sandbox {c} removed"
        case ev.EndpointJoined(container=c, network=n, interface=i, address=a):
            return f"endpoint joined: {c} {i} {a} on {n}"
        case ev.EndpointLeft(container=c, network=n, interface=i):
            return f"endpoint left: {c} {i} from {n}"
        case ev.StepDone(where=w, step=s):
            return f"{w}: {s}"
        case ev.LabReset():
            return "lab reset"
        case ev.LabRestored(hosts=h, networks=n, containers=c):
            return f"lab restored: {h} hosts, {n} networks, {c} sandboxes"
    if is_dataclass(event):
        data = {f.name: getattr(event, f.name) for f in fields(event) if f.name != "time"}
        name = type(event).__name__
    else:
        data = {k: v for k, v in dict(event).items() if k not in ("Type", "time")}
        name = dict(event).get("Type", "event")
    return f"{name}: " + " ".join(f"{k}={v}" for k, v in data.items())


def event_name(event) -> str:
    return type(event).__name__ if is_dataclass(event) else str(dict(event).get("Type", "event"))


def event_time(event) -> float:
    return getattr(event, "time", None) or (event.get("time") if isinstance(event, dict) else None) or time.time()


def event_line(event) -> Text:
    name = event_name(event)
    style = next((s for suffix, s in STYLES.items() if name.endswith(suffix)), "")
    if name == "StepDone":
        style = "dim"
    stamp = time.strftime("%H:%M:%S", time.localtime(event_time(event)))
    return Text.assemble((stamp + " ", "dim"), (f"{name:<17}", f"bold {style}".strip()), " ", (describe(event), style))
