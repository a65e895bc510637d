"""The live events screen: the engine's event stream, as sentences, as it happens.

The app follows `/events` in a worker and publishes each event; this screen writes it to a log.
Changes made by any client (the CLI in another terminal, a notebook) show up here at once.
"""

from __future__ import annotations

import time
from dataclasses import fields, is_dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, RichLog

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
            return f"  {w}: {s}"
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


class EventsScreen(Screen):
    AUTO_FOCUS = "#events-log"
    BINDINGS = [Binding("ctrl+l", "clear", "Clear"), Binding("s", "toggle_steps", "Steps on/off")]

    def __init__(self):
        super().__init__()
        self.show_steps = True

    def compose(self) -> ComposeResult:
        yield Header()
        log = RichLog(id="events-log", wrap=False, max_lines=5000, auto_scroll=True)
        log.border_title = "engine events (live)"
        yield log
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        for event in self.app.event_history:
            self.add_event(event)
        self.app.lab_event.subscribe(self, self.add_event)

    def add_event(self, event) -> None:
        if not self.show_steps and event_name(event) == "StepDone":
            return
        self.query_one(RichLog).write(event_line(event))

    def action_clear(self) -> None:
        self.query_one(RichLog).clear()

    def action_toggle_steps(self) -> None:
        self.show_steps = not self.show_steps
        self.notify("build steps shown" if self.show_steps else "build steps hidden")
