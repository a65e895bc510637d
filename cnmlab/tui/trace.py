"""The trace view: a probe's path hop by hop, lit up in order (Filius-style) and stepped with keys.

A drop is marked right after the hop where the packet was last seen, with the rule that dropped
it; at an underlay hop of an overlay network the VXLAN outer header is shown under the hop.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.reactive import reactive
from textual.widgets import Static

LEG_STYLE = {"request": "cyan", "reply": "green"}
VERDICT_STYLE = {"delivered": "bold green", "replied": "bold green", "dropped": "bold red"}


def trace_summary(trace: dict) -> Text:
    """The trace's verdict on one line, then why (and the rule, when one dropped the packet)."""
    verdict = trace.get("verdict", "?")
    port = f":{trace['port']}" if trace.get("port") else ""
    text = Text.assemble((f"trace: {verdict}", VERDICT_STYLE.get(verdict, "bold")), "  ",
                         f"{trace.get('source')} ({trace.get('src_ip')}) → {trace.get('destination')} "
                         f"({trace.get('dst_ip')}) {trace.get('proto')}{port}")
    if trace.get("reason"):
        text.append("\nwhy: ", "dim")
        text.append(trace["reason"])
    elif trace.get("dropped_after") is not None:
        text.append(f"\ndropped after hop {trace['dropped_after']}", "red")
    return text


def trace_text(trace: dict, step: int) -> Text:
    """The hops up to `step` lit, the rest dim; the drop and outer headers marked where they happen."""
    out = Text(no_wrap=True, overflow="ignore")
    hops = trace.get("hops") or []
    if not hops:
        out.append("(no hops captured)", "dim")
    for pos, hop in enumerate(hops):
        lit = pos <= step
        arrow = "→" if hop.get("leg", "request") == "request" else "←"
        where = f"{hop.get('namespace')}:{hop.get('interface')}"
        elapsed = f"+{hop['time_ms']:.2f}ms" if hop.get("time_ms") is not None else ""
        if not hop.get("seen", True):
            style = "dim strike" if lit else "dim"
            detail = "not seen here"
        else:
            style = f"bold {LEG_STYLE.get(hop.get('leg'), 'white')}" if lit else "dim"
            detail = hop.get("summary", "")
        if pos == step:
            style += " reverse"
        if pos:
            out.append("\n")
        out.append("▶ " if pos == step else "  ")
        out.append(f"{hop.get('index', pos):>2} {arrow} {where:<24} {hop.get('direction', ''):<3} {elapsed:>9} {detail}",
                   style)
        outer = hop.get("outer")
        if outer and lit:
            out.append(f"\n       VXLAN outer {outer.get('src')} → {outer.get('dst')} udp/{outer.get('udp_port')} "
                       f"vni {outer.get('vni')}", "bold magenta")
        if hop.get("nat") and lit:
            out.append(f"\n       NAT {hop['nat']}", "yellow")
        if trace.get("dropped_after") == hop.get("index", pos) and lit:
            rule = trace.get("rule") or {}
            where = f"{rule.get('table', '?')}/{rule.get('chain', '?')} in {rule.get('namespace', '?')}" if rule \
                else "an unknown rule"
            out.append(f"\n    ✘ dropped here by {where}", "bold red")
            if rule.get("rule"):
                out.append(f": {rule['rule']}", "red")
    return out


class TraceView(ScrollableContainer, can_focus=True):
    BINDINGS = [
        Binding("right,j", "step(1)", "Next hop"),
        Binding("left,k", "step(-1)", "Prev hop"),
        Binding("space", "play", "Play"),
        Binding("home", "restart", "First hop", show=False),
        Binding("end", "finish", "All hops", show=False),
    ]
    step = reactive(-1)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trace: dict | None = None
        self._timer = None

    def compose(self):
        yield Static("Pick a source and a destination, then press t to trace.", id="trace-hops")

    def show_trace(self, trace: dict, play: bool = True) -> None:
        self.trace = trace
        self.step = -1
        self.refresh_hops()
        if play:
            self.action_play()

    @property
    def hop_count(self) -> int:
        return len((self.trace or {}).get("hops") or [])

    def watch_step(self) -> None:
        self.refresh_hops()

    def refresh_hops(self) -> None:
        if self.trace is not None:
            self.query_one("#trace-hops", Static).update(trace_text(self.trace, self.step))
            lines = trace_text(self.trace, self.step).plain.splitlines()
            current = next((i for i, line in enumerate(lines) if line.startswith("▶")), 0)
            self.scroll_to(y=max(0, current - self.size.height // 2), animate=False)

    def action_step(self, delta: int) -> None:
        self._stop()
        self.step = max(-1, min(self.step + delta, self.hop_count - 1))

    def action_restart(self) -> None:
        self._stop()
        self.step = -1

    def action_finish(self) -> None:
        self._stop()
        self.step = self.hop_count - 1

    def action_play(self) -> None:
        """Light the hops up one after the other."""
        self._stop()
        if self.step >= self.hop_count - 1:
            self.step = -1
        self._timer = self.set_interval(0.3, self._advance)

    def _advance(self) -> None:
        if self.step >= self.hop_count - 1:
            self._stop()
        else:
            self.step += 1

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
