"""The lab-guide pane: the current guided lab's step and whether its check passes.

Only the pane and its API live here; the guided labs themselves feed it:

    guide.set_lab([GuideStep("Create net-a", "cnmlab network create net-a", check=fn), ...], title="Lab 1")
    guide.show_step(1)          # 0-based
    guide.set_status(True, "net-a exists")   # or None for "not checked yet"
    guide.run_check()           # runs the step's check(client) -> (passed, detail) in a worker
    guide.run_solve()           # "show me": the step's solve(client) -> detail, in a worker
    guide.run_reset()           # set_lab(..., reset=fn): fn(client) -> detail, back to step 1
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from .calls import readable


@dataclass(frozen=True)
class GuideStep:
    title: str
    text: str = ""
    check: Callable | None = None  # check(client) -> (passed: bool, detail: str)
    solve: Callable | None = None  # solve(client) -> detail: apply the step's "show me" solution
    hints: tuple[str, ...] = ()  # a troubleshooting step's hints, shown one more at each h


class LabGuide(Vertical, can_focus=True):
    BINDINGS = [
        Binding("left,[", "step(-1)", "Prev step"),
        Binding("right,]", "step(1)", "Next step"),
        Binding("enter", "check", "Check"),
        Binding("s", "show_me", "Show me"),
        Binding("h", "hint", "Hint"),
        Binding("R", "reset_lab", "Reset lab"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lab_title = "Lab guide"
        self.steps: list[GuideStep] = []
        self.index = 0
        self.passed: bool | None = None
        self.detail = ""
        self.on_reset: Callable | None = None
        self.hints_shown = 0

    def compose(self) -> ComposeResult:
        yield from ()  # its two lines are mounted with the first lab (`_lines`): hidden till then

    def on_mount(self) -> None:
        self.display = bool(self.steps)

    def _lines(self) -> tuple[Static, Static]:
        """The step's line and the check's line."""
        if not self.query("#guide-step"):
            self.mount(Static(id="guide-step"), Static(id="guide-status"))
        return self.query_one("#guide-step", Static), self.query_one("#guide-status", Static)

    # -- the API the guided labs use ------------------------------------------------
    def set_lab(self, steps: list[GuideStep | str], title: str = "Lab guide", reset: Callable | None = None) -> None:
        self.on_reset = reset
        self.steps = [s if isinstance(s, GuideStep) else GuideStep(str(s)) for s in steps]
        self.lab_title = title
        self.display = bool(self.steps)
        self.show_step(0)

    def show_step(self, index: int) -> None:
        if not self.steps:
            return
        self.index = max(0, min(index, len(self.steps) - 1))
        self.passed, self.detail = None, ""
        self.hints_shown = 0
        self._redraw()

    def set_status(self, passed: bool | None, detail: str = "") -> None:
        self.passed, self.detail = passed, detail
        self._redraw()

    @property
    def step(self) -> GuideStep | None:
        return self.steps[self.index] if self.steps else None

    @work(thread=True, exclusive=True, group="guide-check")
    def run_check(self) -> None:
        step = self.step
        if step is None or step.check is None:
            self.app.call_from_thread(self.set_status, None, "this step has no check")
            return
        try:
            passed, detail = step.check(self.app.client)
        except Exception as exc:  # a failing check is a result to show, not a crash
            passed, detail = False, readable(exc)
        self.app.call_from_thread(self.set_status, bool(passed), detail)

    @work(thread=True, exclusive=True, group="guide-check")
    def run_solve(self) -> None:
        step = self.step
        if step is None or step.solve is None:
            self.app.call_from_thread(self.set_status, None, "this step has no solution to show")
            return
        self.app.call_from_thread(self.set_status, None, "applying the solution…")
        try:
            detail, passed = step.solve(self.app.client), None
        except Exception as exc:
            detail, passed = readable(exc), False
        self.app.call_from_thread(self.set_status, passed, f"show me: {detail}")

    @work(thread=True, exclusive=True, group="guide-check")
    def run_reset(self) -> None:
        if self.on_reset is None:
            return
        try:
            detail = self.on_reset(self.app.client)
        except Exception as exc:
            self.app.call_from_thread(self.set_status, False, readable(exc))
            return
        self.app.call_from_thread(self.show_step, 0)
        self.app.call_from_thread(self.set_status, None, detail)

    # -- keys -------------------------------------------------------------------
    def action_step(self, delta: int) -> None:
        self.show_step(self.index + delta)

    def action_check(self) -> None:
        self.run_check()

    def action_show_me(self) -> None:
        self.run_solve()

    def action_reset_lab(self) -> None:
        self.run_reset()

    def action_hint(self) -> None:
        """One more hint: the symptom first, then the tool that shows it, then the cause."""
        step = self.step
        if step is None or not step.hints:
            self.set_status(self.passed, "this step has no hints: check it (enter) for a hint per failed check")
            return
        self.hints_shown = min(self.hints_shown + 1, len(step.hints))
        self._redraw()

    def _redraw(self) -> None:
        step = self.step
        if step is None:
            return
        self.border_title = f"{self.lab_title} · step {self.index + 1}/{len(self.steps)}"
        text = Text.assemble((step.title, "bold"), ("\n" + step.text if step.text else ""))
        for i, hint in enumerate(step.hints[:self.hints_shown], 1):
            text.append(f"\nhint {i}/{len(step.hints)}: ", "bold cyan")
            text.append(hint)
        step_line, status_line = self._lines()
        step_line.update(text)
        if self.passed is None:
            status = Text("check: not run yet (enter)" if not self.detail else f"check: {self.detail}", "dim")
        elif self.passed:
            status = Text.assemble(("✔ check passes", "bold green"), f"  {self.detail}")
        else:
            status = Text.assemble(("✘ check fails", "bold red"), f"  {self.detail}")
        status_line.update(status)
