"""The probe screen: pick a source and a destination (protocol, port), send one test packet and
read the outcome with its one-line reason; or trace it and watch the hops light up.

The destination is typed, as `cnmlab probe` takes it: a container name or alias, an IP address, a
host name, or HOST:PORT for a published port. The lab's names and addresses are offered as
suggestions (→ accepts one; ↓/↑ in the field step through them), so picking stays one key away.

The screen opens, and comes back, on the source, never in a text field (fields.py): its keys
s, t, w are letters. Inside a field, enter sends, ctrl+t traces and escape leaves the field."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Header, Input, Label, Select, Static

from . import SCREENS_CSS
from .calls import readable
from .fields import ScreenField, keep_focus_off_fields
from .footer import Footer
from .model import LabModel
from .trace import TraceView, trace_summary

PROTOCOLS = ("icmp", "tcp", "udp")
OUTCOME_STYLE = {"reachable": "bold green", "refused": "bold yellow", "no route": "bold red",
                 "timeout": "bold red", "filtered": "bold magenta"}


def rule_line(rule: dict | None) -> Text:
    """The iptables rule that dropped a packet, where one did."""
    if not rule:
        return Text("")
    return Text.assemble(("\nrule: ", "dim"), (f"{rule.get('table')}/{rule.get('chain')}", "bold red"),
                         f" in {rule.get('namespace')}: ", (rule.get("rule") or "", "red"))


def probe_text(result: dict) -> Text:
    outcome = result.get("outcome", "?")
    port = f":{result['port']}" if result.get("port") else ""
    rtt = f" in {result['rtt_ms']:.2f} ms" if result.get("rtt_ms") is not None else ""
    return Text.assemble(
        (f"{outcome}", OUTCOME_STYLE.get(outcome, "bold")), rtt, "\n",
        f"{result.get('source')} ({result.get('src_ip')}) → {result.get('destination')} "
        f"({result.get('dst_ip')}) {result.get('proto')}{port}\n",
        ("why: ", "dim"), result.get("reason") or "", rule_line(result.get("rule")))


def destinations(lab: LabModel) -> list[str]:
    """What a destination can be, in the order worth suggesting: containers, hosts, then addresses."""
    names = [c.name for c in lab.containers] + [h.name for h in lab.hosts]
    addresses = [ep.ip for c in lab.containers for ep in c.endpoints if ep.ip] + \
        [h.address.split("/")[0] for h in lab.hosts if h.address]
    return list(dict.fromkeys(names + addresses))


def published_port(destination: str) -> bool:
    """HOST:PORT (or IP:PORT): the port is part of the destination, so the port field does not apply."""
    host, sep, port = destination.rpartition(":")
    return bool(sep and host and port.isdigit())


def failure_text(message: str) -> Text:
    return Text.assemble(("✘ ", "bold red"), (message, "red"))


class ProbeField(ScreenField):
    """A text field of the probe form: enter sends, ctrl+t traces, escape leaves it for Send."""

    BINDINGS = [Binding("enter", "submit", "Send"), Binding("ctrl+t", "screen.trace", "Trace")]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, leave_to="#send", **kwargs)


class DestinationInput(ProbeField):
    """The destination field: free text, with ↓/↑ stepping through the lab's names and addresses."""

    BINDINGS = [Binding("down", "step(1)", "Next", show=False), Binding("up", "step(-1)", "Previous", show=False)]

    def action_step(self, step: int) -> None:
        self.screen.action_cycle_destination(step)


class ProbeScreen(Screen):
    CSS_PATH = SCREENS_CSS
    AUTO_FOCUS = "#src"
    BINDINGS = [
        Binding("s", "send", "Send"),
        Binding("t", "trace", "Trace"),
        Binding("w", "swap", "Swap ends"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="probe-form"):
            yield Select([], id="src", prompt="source", compact=True)
            yield Label("→")
            yield DestinationInput(placeholder="container, IP, host or host:port", id="dst", compact=True,
                                   suggester=SuggestFromList([], case_sensitive=False))
            yield Select([(p, p) for p in PROTOCOLS], value="icmp", allow_blank=False, id="proto", compact=True)
            yield ProbeField(placeholder="port", id="port", compact=True, type="integer", max_length=5)
            yield Button("Send", id="send", variant="primary", compact=True)
            yield Button("Trace", id="trace", compact=True)
        result = Static("Pick a source and a destination, then press s to send (t to trace).", id="probe-result")
        result.border_title = "probe"
        yield result
        view = TraceView(id="trace-view")
        view.border_title = "trace"
        yield view
        yield Footer(compact=True, show_command_palette=False)

    def on_screen_resume(self) -> None:
        keep_focus_off_fields(self, "#src")

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.show_lab)
        if self.app.lab is not None:
            self.show_lab(self.app.lab)

    def show_lab(self, lab: LabModel) -> None:
        names = [c.name for c in lab.containers]
        src = self.query_one("#src", Select)
        current = src.value
        src.set_options([(n, n) for n in names])
        if current in names:
            src.value = current
        elif names:
            src.value = names[0]
        dst = self.query_one("#dst", Input)
        dst.suggester = SuggestFromList(destinations(lab), case_sensitive=False)
        if not dst.value and len(names) > 1:  # never overwrite what the user typed
            dst.value = names[1]

    def action_cycle_destination(self, step: int) -> None:
        """Step the destination through the lab's names and addresses (picking without typing)."""
        if self.app.lab is None:
            return
        choices = destinations(self.app.lab)
        dst = self.query_one("#dst", Input)
        if choices:
            at = choices.index(dst.value) if dst.value in choices else -step
            dst.value = choices[(at + step) % len(choices)]
            dst.cursor_position = len(dst.value)

    def request(self) -> dict | None:
        src, dst = self.query_one("#src", Select).value, self.query_one("#dst", Input).value.strip()
        if src is Select.NULL or not dst:
            self.query_one("#probe-result", Static).update(
                failure_text("pick a source and type a destination (container, IP, host or host:port)"))
            return None
        proto = self.query_one("#proto", Select).value
        port_text = self.query_one("#port", Input).value.strip()
        if published_port(dst):  # the engine takes the port (and TCP/UDP) from the binding
            return {"src": src, "dst": dst, "proto": proto, "port": None}
        if proto != "icmp" and not port_text:
            port_text = "80" if proto == "tcp" else "7"  # the lab's test services
            self.query_one("#port", Input).value = port_text
        return {"src": src, "dst": dst, "proto": proto, "port": int(port_text) if port_text and proto != "icmp" else None}

    @on(Button.Pressed, "#send")
    @on(Input.Submitted, "#port")
    @on(Input.Submitted, "#dst")
    def action_send(self) -> None:
        req = self.request()
        if req:
            self.query_one("#probe-result", Static).loading = True
            self.send(req)

    @on(Button.Pressed, "#trace")
    def action_trace(self) -> None:
        req = self.request()
        if req:
            self.query_one("#trace-view", TraceView).loading = True
            self.run_trace(req)

    def action_swap(self) -> None:
        src, dst = self.query_one("#src", Select), self.query_one("#dst", Input)
        names = [c.name for c in self.app.lab.containers] if self.app.lab else []
        if dst.value.strip() not in names:  # only a container can be a source here
            self.query_one("#probe-result", Static).update(
                failure_text(f"cannot swap: {dst.value.strip() or 'an empty destination'} is not a container"))
            return
        old_src = src.value
        src.value = dst.value.strip()
        dst.value = "" if old_src is Select.NULL else str(old_src)

    @work(thread=True, exclusive=True, group="probe")
    def send(self, req: dict) -> None:
        try:
            result = self.app.client.probe(req["src"], req["dst"], req["proto"], req["port"])
        except Exception as exc:
            self.app.call_from_thread(self.failed, "#probe-result", f"probe failed: {readable(exc)}")
            return
        self.app.call_from_thread(self.show_result, result)

    @work(thread=True, exclusive=True, group="trace")
    def run_trace(self, req: dict) -> None:
        try:
            trace = self.app.client.trace(req["src"], req["dst"], req["proto"], req["port"])
        except Exception as exc:
            self.app.call_from_thread(self.failed, "#trace-view", f"trace failed: {readable(exc)}")
            return
        self.app.call_from_thread(self.show_trace, trace)

    def show_result(self, result: dict) -> None:
        pane = self.query_one("#probe-result", Static)
        pane.loading = False
        pane.update(probe_text(result))

    def show_trace(self, trace: dict) -> None:
        pane = self.query_one("#probe-result", Static)
        pane.update(trace_summary(trace))
        view = self.query_one("#trace-view", TraceView)
        view.loading = False
        view.show_trace(trace)
        view.focus()

    def failed(self, selector: str, message: str) -> None:
        """The engine's one line, shown where the result would have been (a bad destination, a dead engine)."""
        self.query_one(selector).loading = False
        self.query_one("#probe-result", Static).update(failure_text(message))
