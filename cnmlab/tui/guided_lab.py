"""A guided lab (cnmlab.labs) played in the TUI's lab-guide pane: ←/→ steps, enter checks,
s shows the solution (applies it), R resets the lab. `cnmlab lab play N` opens it."""

from __future__ import annotations

from ..client import Client
from ..labs import LabSpec, runner
from .app import CnmlabApp
from .guide import GuideStep

MARKS = {True: "✔", False: "✘", None: "–"}


def check_detail(record: runner.StepRecord) -> str:
    lines = [record.reason] if record.reason else []
    for c in runner.distinct(record.checks):
        lines.append(f"{MARKS[c['ok']]} {c['message']}")
        if c["ok"] is False and c["hint"]:
            lines.append(f"   hint: {c['hint']}")
    return "\n".join(lines)


def pane_text(markdown: str) -> str:
    """Step Markdown for a narrow pane: paragraphs as single lines (the pane wraps them), code
    blocks as indented command lines without their fences."""
    out, para, in_code = [], [], False
    for line in markdown.split("\n"):
        if line.strip().startswith("```"):
            if para:
                out.append(" ".join(para))
                para = []
            in_code = not in_code
        elif in_code:
            out.append("  " + line)
        elif line.strip():
            para.append(line.strip())
        elif para:
            out.append(" ".join(para))
            para = []
    if para:
        out.append(" ".join(para))
    return "\n".join(out)


def guide_steps(lab: LabSpec) -> list[GuideStep]:
    def check(step):
        def run(client: Client) -> tuple[bool, str]:
            record = runner.check_step(client, lab, step)
            return record.status != "failed", "\n" + check_detail(record)
        return run

    def solve(step):
        def run(client: Client) -> str:
            return "\n".join(f"$ {line}" for line in runner.solve(client, lab, step)) or "nothing to build: look, then check"
        return run

    symptom = f"Symptom: {lab.symptom}\n" if lab.symptom else ""
    return [GuideStep(step.title, (symptom if step.number == 1 else "") + pane_text(step.text), check=check(step),
                      solve=solve(step), hints=step.hints) for step in lab.steps]


def show_lab(app: CnmlabApp, lab: LabSpec):
    def reset(client: Client) -> str:
        runner.start(client, lab)
        return f"lab {lab.number} set up again"

    guide = app.guide
    guide.styles.max_height = "60%"  # a lab's steps and check results need more room than a hint line
    guide.set_lab(guide_steps(lab), f"Lab {lab.number}: {lab.title}", reset=reset)
    app.call_after_refresh(guide.focus)  # after the topology screen has placed its own focus
    return guide


class GuidedApp(CnmlabApp):
    """The cnmlab app opened on a guided lab (started beforehand with runner.start)."""

    def __init__(self, lab: LabSpec, client: Client | None = None):
        super().__init__(starter=False, client=client)
        self.guided_lab = lab

    def booted(self, lab, drivers, built) -> None:
        super().booted(lab, drivers, built)
        show_lab(self, self.guided_lab)
