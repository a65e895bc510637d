"""A guided lab (cnmlab.labs) played in the TUI's lab-guide pane: ←/→ steps, enter checks,
s shows the solution (applies it), R resets the lab. `cnmlab lab play N` opens it."""

from __future__ import annotations

from ..client import Client
from ..labs import Lab, runner
from .app import CnmlabApp
from .guide import GuideStep

MARKS = {True: "✔", False: "✘", None: "–"}


def check_detail(record: runner.StepRecord) -> str:
    lines = [record.reason] if record.reason else []
    for c in record.checks:
        lines.append(f"{MARKS[c['ok']]} {c['message']}")
        if c["ok"] is False and c["hint"]:
            lines.append(f"   hint: {c['hint']}")
    return "\n".join(lines)


def guide_steps(lab: Lab) -> list[GuideStep]:
    def check(step):
        def run(client: Client) -> tuple[bool, str]:
            record = runner.check_step(client, lab, step)
            return record.status != "failed", f"{record.status}\n{check_detail(record)}"
        return run

    def solve(step):
        def run(client: Client) -> str:
            return "\n".join(f"$ {line}" for line in runner.solve(client, lab, step)) or "nothing to build: look, then check"
        return run

    return [GuideStep(f"{step.title}", step.text, check=check(step), solve=solve(step)) for step in lab.steps]


def show_lab(app: CnmlabApp, lab: Lab):
    def reset(client: Client) -> str:
        runner.start(client, lab)
        return f"lab {lab.number} set up again"

    guide = app.guide
    guide.set_lab(guide_steps(lab), f"Lab {lab.number}: {lab.title}", reset=reset)
    app.call_after_refresh(guide.focus)  # after the topology screen has placed its own focus
    return guide


class GuidedApp(CnmlabApp):
    """The cnmlab app opened on a guided lab (started beforehand with runner.start)."""

    def __init__(self, lab: Lab, client: Client | None = None):
        super().__init__(starter=False, client=client)
        self.guided_lab = lab

    def booted(self, lab, drivers, built) -> None:
        super().booted(lab, drivers, built)
        show_lab(self, self.guided_lab)
