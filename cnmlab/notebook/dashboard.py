"""The dashboard widget: the live CNM diagram, build controls, a probe panel, and tabs for the
reachability matrix, traces and the engine's event log.

Each button is one `Lab` call; its error shows inline under the controls. The diagram and the
menus redraw from engine events (any client's changes), through `live.EventWatcher`; a burst of
events causes one redraw.
"""

from __future__ import annotations

import html
import threading
import time
from collections import deque
from dataclasses import fields, is_dataclass

import ipywidgets as w

from ..client import Client
from ..errors import CnmError
from .diagram import to_svg
from .live import EventWatcher
from .results import LabError, error_html
from .state import LabState

PROTOS = ["icmp", "tcp", "udp", "http", "dns", "arp"]
REDRAW_DELAY = 0.15  # seconds to gather a burst of events into one redraw
LOG_LINES = 200
RECONNECT_REFRESH = 1.5  # seconds after a lost stream before trying to redraw


def describe_event(event) -> str:
    """One log line: time, type, fields (typed events and unknown dict records alike)."""
    if is_dataclass(event):
        stamp = getattr(event, "time", time.time())
        name = type(event).__name__
        values = {f.name: getattr(event, f.name) for f in fields(event) if f.name != "time"}
    else:
        stamp = event.get("time", time.time())
        name = event.get("Type", "event")
        values = {k: v for k, v in event.items() if k not in ("Type", "time")}
    text = " ".join(f"{k}={v}" for k, v in values.items())
    return f"{time.strftime('%H:%M:%S', time.localtime(stamp))} {name} {text}".rstrip()


def _port(value: int) -> int | None:
    return value or None


class Dashboard(w.VBox):
    def __init__(self, lab, live: bool = True):
        self.lab = lab
        self._lock = threading.Lock()
        self._redraw_timer: threading.Timer | None = None
        self.log_lines: deque[str] = deque(maxlen=LOG_LINES)
        self.redraws = 0
        self.state = LabState()

        self.header = w.HTML()
        self.diagram = w.HTML(layout=w.Layout(overflow="auto"))
        self.diagram.add_class("cnm-diagram-view")
        self.message = w.HTML()
        self.message.add_class("cnm-message")

        # build controls
        self.net_name = w.Text(placeholder="network name", description="Network")
        self.net_driver = w.Dropdown(options=["bridge"], value="bridge", description="driver")
        self.net_subnet = w.Text(placeholder="subnet (optional)", description="subnet")
        self.create_button = w.Button(description="Create network", button_style="primary")
        self.ctr_name = w.Text(placeholder="container name", description="Container")
        self.ctr_network = w.Dropdown(options=[], description="network")
        self.ctr_host = w.Dropdown(options=[], description="host")
        self.run_button = w.Button(description="Run", button_style="primary")
        self.link_network = w.Dropdown(options=[], description="Network")
        self.link_container = w.Dropdown(options=[], description="container")
        self.connect_button = w.Button(description="Connect")
        self.disconnect_button = w.Button(description="Disconnect")
        self.rm_target = w.Dropdown(options=[], description="Remove")
        self.rm_button = w.Button(description="Remove", button_style="danger")

        # probe panel
        self.probe_src = w.Dropdown(options=[], description="Probe from")
        self.probe_dst = w.Combobox(options=[], placeholder="container, alias or IP", description="to")
        self.probe_proto = w.Dropdown(options=PROTOS, value="icmp", description="proto")
        self.probe_port = w.BoundedIntText(value=0, min=0, max=65535, description="port")
        self.probe_button = w.Button(description="Send", button_style="success", icon="paper-plane")
        self.probe_button.add_class("cnm-probe-send")
        self.probe_output = w.HTML()
        self.probe_output.add_class("cnm-probe-output")

        # tabs
        self.matrix_proto = w.Dropdown(options=PROTOS[:3], value="icmp", description="proto")
        self.matrix_port = w.BoundedIntText(value=0, min=0, max=65535, description="port")
        self.matrix_button = w.Button(description="Run matrix")
        self.matrix_output = w.HTML()
        self.trace_src = w.Dropdown(options=[], description="from")
        self.trace_dst = w.Combobox(options=[], placeholder="container or IP", description="to")
        self.trace_proto = w.Dropdown(options=PROTOS[:3], value="icmp", description="proto")
        self.trace_port = w.BoundedIntText(value=0, min=0, max=65535, description="port")
        self.trace_button = w.Button(description="Trace")
        self.trace_output = w.HTML()
        self.event_log = w.HTML()
        self.tabs = w.Tab(children=[
            w.VBox([w.HBox([self.matrix_proto, self.matrix_port, self.matrix_button]), self.matrix_output]),
            w.VBox([w.HBox([self.trace_src, self.trace_dst]), w.HBox([self.trace_proto, self.trace_port,
                                                                      self.trace_button]), self.trace_output]),
            self.event_log,
        ])
        for i, title in enumerate(("Matrix", "Traces", "Event log")):
            self.tabs.set_title(i, title)

        self.create_button.on_click(lambda _: self._act(self._create_network))
        self.run_button.on_click(lambda _: self._act(self._run))
        self.connect_button.on_click(lambda _: self._act(self._connect))
        self.disconnect_button.on_click(lambda _: self._act(self._disconnect))
        self.rm_button.on_click(lambda _: self._act(self._remove))
        self.probe_button.on_click(lambda _: self._show(self.probe_output, self._probe))
        self.matrix_button.on_click(lambda _: self._show(self.matrix_output, self._matrix))
        self.trace_button.on_click(lambda _: self._show(self.trace_output, self._trace))

        super().__init__([
            self.header,
            self.diagram,
            _heading("Build"),
            w.HBox([self.net_name, self.net_driver, self.net_subnet, self.create_button]),
            w.HBox([self.ctr_name, self.ctr_network, self.ctr_host, self.run_button]),
            w.HBox([self.link_network, self.link_container, self.connect_button, self.disconnect_button]),
            w.HBox([self.rm_target, self.rm_button]),
            self.message,
            _heading("Probe"),
            w.HBox([self.probe_src, self.probe_dst]),
            w.HBox([self.probe_proto, self.probe_port, self.probe_button]),
            self.probe_output,
            self.tabs,
        ])
        self.add_class("cnm-dashboard")
        try:
            drivers = [d["Name"] for d in self.lab.client.drivers()]
            # host and null make network modes, not networks: the engine says which drivers do
            modes = {n["Driver"] for n in self.lab.client.networks() if n.get("NetworkMode")}
            self.net_driver.options = [d for d in drivers if d not in modes] or ["bridge"]
        except Exception:  # the menu keeps "bridge"; the create call reports the real problem
            pass
        # The views read through a client that never starts an engine: after `cnmlab engine stop`
        # the dashboard says so and waits, instead of starting a new engine behind the user's back.
        self.reader = Client(self.lab.client.socket_path, autostart=False)
        self.refresh()
        self.watcher = EventWatcher(self.lab.client.socket_path, self._on_event, self._on_stream_error)
        if live:
            self.watcher.start()

    # -- drawing ----------------------------------------------------------------------
    def refresh(self) -> LabState | None:
        """Fetch the lab and redraw the diagram and every menu."""
        try:
            state = LabState.fetch(self.reader)
            pid = self.reader.status().get("pid")
        except Exception as exc:
            self.header.value = error_html(f"cannot read the lab: {_message(exc)}")
            watcher = getattr(self, "watcher", None)
            if watcher is not None and watcher.running:  # keep trying while the engine is away
                self._schedule_refresh(RECONNECT_REFRESH)
            return None
        with self._lock:
            self.redraws += 1
            self.state = state
            self.diagram.value = to_svg(state)
            self.header.value = (f"<b>cnmlab</b> · engine pid {pid} · "
                                 f"{len(state.hosts)} host(s), {len(state.networks)} network(s), "
                                 f"{len(state.containers)} container(s)")
            containers = state.container_names()
            networks = state.network_names()
            hosts = [h.name for h in state.hosts if not h.plain]
            _set_options(self.ctr_network, networks)
            _set_options(self.ctr_host, hosts)
            _set_options(self.link_network, networks)
            _set_options(self.link_container, containers)
            _set_options(self.rm_target, [f"container {c}" for c in containers] +
                         [f"network {n}" for n in networks if n not in ("bridge", "host", "none")])
            _set_options(self.probe_src, containers + hosts)
            _set_options(self.trace_src, containers)
            self.probe_dst.options = tuple(containers)
            self.trace_dst.options = tuple(containers)
        return state

    def _on_event(self, event) -> None:
        self.log_lines.append(describe_event(event))
        self.event_log.value = "<pre class='cnm-events'>" + html.escape("\n".join(reversed(self.log_lines))) + "</pre>"
        self._schedule_refresh(REDRAW_DELAY)

    def _schedule_refresh(self, delay: float) -> None:
        with self._lock:
            if self._redraw_timer is None:
                self._redraw_timer = threading.Timer(delay, self._timed_refresh)
                self._redraw_timer.daemon = True
                self._redraw_timer.start()

    def _timed_refresh(self) -> None:
        with self._lock:
            self._redraw_timer = None
        self.refresh()

    def _on_stream_error(self, exc: Exception) -> None:
        """The engine went away: say so, and redraw once it is back (a restarted engine restores the lab)."""
        self.header.value = error_html(f"lost the engine ({_message(exc)}); waiting for it to come back")
        self._schedule_refresh(RECONNECT_REFRESH)

    def stop(self) -> None:
        self.watcher.stop()

    # -- actions: one Lab call each; errors inline ------------------------------------
    def _act(self, action) -> None:
        try:
            done = action()
        except Exception as exc:
            self.message.value = error_html(_message(exc))
            return
        self.message.value = f"<span class='cnm-ok'>{html.escape(done)}</span>"
        self.refresh()

    def _show(self, output: w.HTML, action) -> None:
        try:
            output.value = action()._repr_html_()
        except Exception as exc:
            output.value = error_html(_message(exc))

    def _create_network(self) -> str:
        net = self.lab.network_create(self.net_name.value.strip(), driver=self.net_driver.value,
                                      subnet=self.net_subnet.value.strip() or None)
        return f"created network {net.name} ({net.id[:12]})"

    def _run(self) -> str:
        ctr = self.lab.run(self.ctr_name.value.strip(), network=self.ctr_network.value, host=self.ctr_host.value)
        return f"created container {ctr.name} on {self.ctr_host.value}"

    def _connect(self) -> str:
        self.lab.connect(self.link_network.value or "", self.link_container.value or "")
        return f"connected {self.link_container.value} to {self.link_network.value}"

    def _disconnect(self) -> str:
        self.lab.disconnect(self.link_network.value or "", self.link_container.value or "")
        return f"disconnected {self.link_container.value} from {self.link_network.value}"

    def _remove(self) -> str:
        if not self.rm_target.value:
            raise LabError("nothing to remove: choose a container or a network")
        kind, name = self.rm_target.value.split(" ", 1)
        if kind == "container":
            self.lab.rm(name, force=True)
        else:
            self.lab.network_rm(name)
        return f"removed {kind} {name}"

    def _probe(self):
        if not self.probe_src.value or not self.probe_dst.value.strip():
            raise LabError("choose a source and a destination to probe")
        return self.lab.probe(self.probe_src.value, self.probe_dst.value.strip(), proto=self.probe_proto.value,
                              port=_port(self.probe_port.value))

    def _matrix(self):
        return self.lab.matrix(proto=self.matrix_proto.value, port=_port(self.matrix_port.value))

    def _trace(self):
        if not self.trace_src.value or not self.trace_dst.value.strip():
            raise LabError("choose a source and a destination to trace")
        return self.lab.trace(self.trace_src.value, self.trace_dst.value.strip(), proto=self.trace_proto.value,
                              port=_port(self.trace_port.value))


def _heading(text: str) -> w.HTML:
    return w.HTML(f"<b>{html.escape(text)}</b>")


def _message(exc: Exception) -> str:
    """The engine's words for a LabError or CnmError; anything else is a bug worth naming in full."""
    if isinstance(exc, LabError | CnmError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def _set_options(dropdown: w.Dropdown, options: list[str]) -> None:
    """Replace a menu's options, keeping the current choice when it still exists."""
    keep = dropdown.value
    if tuple(options) == tuple(dropdown.options):
        return
    dropdown.options = options
    dropdown.value = keep if keep in options else (options[0] if options else None)
