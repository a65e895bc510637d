"""The cnmlab app: screens for the topology, probes, the matrix and the live event log.

The app owns the one `Client`, the latest lab model and the event stream. Screens subscribe to
two signals: `lab_changed` (a new model) and `lab_event` (one engine event). Every engine call
runs in a worker thread, so the UI never waits on the engine; a failing call becomes a
notification with the engine's one-line message.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.signal import Signal

from ..async_client import AsyncClient
from ..client import Client
from .calls import readable
from .guide import GuideStep, LabGuide
from .picture import Selection
from .stylesheet import ThemeKeptStylesheet
from .topology import TopologyScreen, TopologyTree

if TYPE_CHECKING:  # loaded with the first lab and the first event, after the first frame
    from .model import LabModel

QUIET_EVENTS = ("StepDone",)  # narration only: the lab did not change


def forms():
    """The dialogs module, imported when the first dialog opens."""
    from . import forms as module

    return module


def _lazy(module: str, name: str):
    """A screen class imported on first use, so start-up pays only for the home screen."""

    def make():
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)()

    return make


def load_lab(client: Client) -> LabModel:
    from .model import lab_from_json

    return lab_from_json(client.hosts(), client.networks(), client.containers())


class CnmlabApp(App):
    CSS_PATH = str(Path(__file__).with_name("cnmlab.tcss"))  # absolute: subclasses elsewhere find it too
    TITLE = "cnmlab"
    MODES = {"topology": TopologyScreen, "probe": _lazy("probe", "ProbeScreen"),
             "matrix": _lazy("matrix", "MatrixScreen"), "events": _lazy("events_log", "EventsScreen")}
    DEFAULT_MODE = "topology"
    BINDINGS = [
        Binding("h", "switch_mode('topology')", "Home", tooltip="the topology screen"),
        Binding("p", "switch_mode('probe')", "Probe"),
        Binding("m", "switch_mode('matrix')", "Matrix"),
        Binding("e", "switch_mode('events')", "Events"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("escape", "switch_mode('topology')", "Home", show=False),
        Binding("ctrl+r", "reload", "Reload", show=False),
        Binding("q", "quit", "Quit", show=False),
    ]
    status_text = reactive("")

    def __init__(self, starter: bool = True, client: Client | None = None):
        super().__init__()
        self.stylesheet = ThemeKeptStylesheet(variables=self.stylesheet._variables)  # nothing parsed yet
        self.starter = starter
        self.client = client or Client()
        self.lab: LabModel | None = None
        self.selection: Selection | None = None
        self.drivers: list[str] = ["bridge"]
        self.event_history: deque = deque(maxlen=2000)
        self.lab_changed: Signal[LabModel] = Signal(self, "lab-changed")
        self.lab_event: Signal[object] = Signal(self, "lab-event")
        self.ready = False
        self._reload_timer = None
        self._stream_open = threading.Event()

    # -- start-up ------------------------------------------------------------------
    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self.set_status("connecting to the engine…")
        # After the first frame: the boot thread's imports and engine calls would hold the GIL
        # while the first layout and render run, and the user sees nothing until they end.
        self.call_after_refresh(self.boot)

    def set_status(self, text: str) -> None:
        self.status_text = text
        self.sub_title = text

    @work(thread=True, exclusive=True, group="boot")
    def boot(self) -> None:
        client = self.client
        try:
            if not client.running():
                self.call_from_thread(self.set_status, "starting the engine: building its private lab world…")
                client.status()  # the first call starts the engine and waits for it
            self.call_from_thread(self.follow_events)
            self._stream_open.wait(2.0)  # so the log shows the starter being built, step by step
            drivers = [d["Name"] for d in client.drivers()]
            built = False
            if self.starter:
                from ..labs.starter import build_starter

                self.call_from_thread(self.set_status, "building the starter topology…")
                built = build_starter(client)
            lab = load_lab(client)
        except Exception as exc:
            self.call_from_thread(self.boot_failed, readable(exc))
            return
        self.call_from_thread(self.booted, lab, drivers, built)

    def booted(self, lab: LabModel, drivers: list[str], built: bool) -> None:
        self.drivers = drivers or ["bridge"]
        self.ready = True
        self.set_lab(lab)
        self.set_status("the chapter's starter lab: A on net-a; B on net-a and net-b" if built else
                        f"{len(lab.containers)} sandboxes, {len(lab.networks)} networks")

    def boot_failed(self, message: str) -> None:
        self.set_status("no engine")
        self.notify(f"{message}\nPress ctrl+r to try again.", title="cannot start", severity="error", timeout=30)

    # -- the lab model -------------------------------------------------------------
    def set_lab(self, lab: LabModel) -> None:
        self.lab = lab
        self.lab_changed.publish(lab)

    @work(thread=True, exclusive=True, group="reload")
    def reload(self) -> None:
        try:
            lab = load_lab(self.client)
        except Exception as exc:
            self.call_from_thread(self.notify, readable(exc), title="engine", severity="error")
            return
        self.call_from_thread(self.set_lab, lab)

    def action_reload(self) -> None:
        if self.ready:
            self.reload()
        else:
            self.boot()

    # -- the event stream ------------------------------------------------------------
    @work(exclusive=True, group="events")
    async def follow_events(self) -> None:
        """Follow `/events`; reconnect when the engine restarts."""
        events = AsyncClient(self.client.socket_path, autostart=False)
        lost = False
        while True:
            if lost:
                if not await events.running():
                    await asyncio.sleep(1.0)
                    continue
                lost = False
                self.notify("reconnected to the engine")
                self.reload()  # whatever changed while we were away
            try:
                async for event in events.events(on_open=self._stream_open.set):
                    self.on_lab_event(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # the engine went away: say so once, then keep trying
                pass
            if not lost:
                lost = True
                self.notify("lost the engine's event stream; reconnecting…", severity="warning")
            await asyncio.sleep(1.0)

    def on_lab_event(self, event) -> None:
        from .event_text import describe, event_name

        self.event_history.append(event)
        self.lab_event.publish(event)
        if event_name(event) in QUIET_EVENTS:
            return
        self.sub_title = describe(event)
        if self._reload_timer is not None:
            self._reload_timer.stop()
        self._reload_timer = self.set_timer(0.15, self.reload)  # one reload for a burst of events

    # -- actions: each is one client call, made by a dialog --------------------------
    def _dialog(self, screen: Screen) -> None:
        if self.current_mode != "topology":
            self.switch_mode("topology")
        self.push_screen(screen, self._dialog_done)

    def _dialog_done(self, message: str | None) -> None:
        if message:
            self.notify(message)
            self.reload()

    def action_create_network(self) -> None:
        self._dialog(forms().CreateNetworkForm(self.lab, self.drivers, self.tree_selection()))

    def action_run_container(self) -> None:
        self._dialog(forms().RunContainerForm(self.lab, self.tree_selection()))

    def action_connect(self) -> None:
        self._dialog(forms().ConnectForm(self.lab, self.tree_selection()))

    def action_disconnect(self) -> None:
        self._dialog(forms().DisconnectForm(self.lab, self.tree_selection()))

    def action_add_host(self) -> None:
        self._dialog(forms().AddHostForm(self.lab, self.tree_selection()))

    def action_remove(self) -> None:
        selection = self.tree_selection()
        if selection is None:
            self.notify("select a container, network, endpoint or host in the tree first", severity="warning")
            return
        self._dialog(forms().ConfirmRemove(self.lab, selection))

    def tree_selection(self) -> Selection | None:
        """What the tree's cursor is on now (the highlight message may still be on its way)."""
        trees = self.get_screen_stack("topology")[0].query(TopologyTree) if self.get_screen_stack("topology") else []
        for tree in trees:
            if tree.cursor_node is not None and tree.cursor_node.data is not None:
                return tree.cursor_node.data
        return self.selection

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # The footer hides the key of the screen you are on.
        return not (action == "switch_mode" and parameters and parameters[0] == self.current_mode)

    def action_help(self) -> None:
        from .help import HelpScreen  # Markdown is slow to import: only when asked for

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Create network", "driver, subnet, gateway, internal, options (n)", self.action_create_network)
        yield SystemCommand("Run container", "name, network, alias, ports, host (r)", self.action_run_container)
        yield SystemCommand("Connect", "attach a container to a network (c)", self.action_connect)
        yield SystemCommand("Disconnect", "detach an endpoint (d)", self.action_disconnect)
        yield SystemCommand("Remove", "remove the selected object (x)", self.action_remove)
        yield SystemCommand("Add host", "a simulated Docker host on the underlay (a)", self.action_add_host)
        for mode, help_text in (("topology", "tree, CNM picture, inspect (h)"), ("probe", "send or trace a packet (p)"),
                                ("matrix", "reachability grid (m)"), ("events", "the engine's live events (e)")):
            yield SystemCommand(f"Show {mode}", help_text, lambda mode=mode: self.switch_mode(mode))
        yield SystemCommand("Reload", "read the lab from the engine again (ctrl+r)", self.action_reload)
        yield SystemCommand("Help", "keys and screens (?)", self.action_help)

    # -- the lab guide pane's API (the guided labs drive it) -------------------------
    @property
    def guide(self) -> LabGuide:
        """The guide pane on the topology screen: `app.guide.set_lab(steps)`, `.show_step(i)`, `.run_check()`."""
        return self.get_screen_stack("topology")[0].query_one(LabGuide)

    def set_lab_guide(self, steps: list[GuideStep | str], title: str = "Lab guide") -> LabGuide:
        guide = self.guide
        guide.set_lab(steps, title)
        return guide
