"""The probe screen: pick a source and a destination (protocol, port), send one test packet and
read the outcome with its one-line reason; or trace it and watch the hops light up."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from .calls import readable
from .model import Lab
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


class ProbeScreen(Screen):
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
            yield Select([], id="dst", prompt="destination", compact=True)
            yield Select([(p, p) for p in PROTOCOLS], value="icmp", allow_blank=False, id="proto", compact=True)
            yield Input(placeholder="port", id="port", compact=True, type="integer", max_length=5)
            yield Button("Send", id="send", variant="primary", compact=True)
            yield Button("Trace", id="trace", compact=True)
        result = Static("Pick a source and a destination, then press s to send (t to trace).", id="probe-result")
        result.border_title = "probe"
        yield result
        view = TraceView(id="trace-view")
        view.border_title = "trace"
        yield view
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.show_lab)
        if self.app.lab is not None:
            self.show_lab(self.app.lab)

    def show_lab(self, lab: Lab) -> None:
        names = [c.name for c in lab.containers]
        for widget_id, default in (("src", 0), ("dst", 1)):
            select = self.query_one(f"#{widget_id}", Select)
            current = select.value
            select.set_options([(n, n) for n in names])
            if current in names:
                select.value = current
            elif len(names) > default:
                select.value = names[default]

    def request(self) -> dict | None:
        src, dst = self.query_one("#src", Select).value, self.query_one("#dst", Select).value
        if src is Select.NULL or dst is Select.NULL:
            self.notify("pick a source and a destination", severity="warning")
            return None
        proto = self.query_one("#proto", Select).value
        port_text = self.query_one("#port", Input).value.strip()
        if proto != "icmp" and not port_text:
            port_text = "80" if proto == "tcp" else "7"  # the lab's test services
            self.query_one("#port", Input).value = port_text
        return {"src": src, "dst": dst, "proto": proto, "port": int(port_text) if port_text and proto != "icmp" else None}

    @on(Button.Pressed, "#send")
    @on(Input.Submitted, "#port")
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
        src, dst = self.query_one("#src", Select), self.query_one("#dst", Select)
        src.value, dst.value = dst.value, src.value

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
        self.query_one(selector).loading = False
        self.notify(message, severity="error", title="engine")
