"""A guided lab in Jupyter: the same definition the CLI and the TUI play (cnmlab.labs).

    from cnmlab.notebook.guide import Guide
    guide = Guide(1, lab)        # resets the lab world and sets lab 1 up
    guide                        # the lab pane: step text, Prev / Next / Check / Show me / Reset
    guide.check(2)               # one step's checks, each with what is wrong and a hint
    guide.show_me(2)             # apply the step's solution; shows the commands it ran

The generated notebooks `labs/NN-*.ipynb` are made of these calls (cnmlab.labs.notebooks).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

from ..errors import CnmError
from ..labs import find, runner
from .lab import Lab, call
from .results import LabError, error_html

MARKS = {True: ("✓", "#1a7f37"), False: ("✗", "#cf222e"), None: ("–", "#9a6700")}
STATUS = {"passed": ("✓", "#1a7f37"), "failed": ("✗", "#cf222e"), "skipped": ("–", "#9a6700")}


class StepCheck:
    """One step's grading record; `.passed` is true when no check failed (skipped ones aside)."""

    def __init__(self, record: dict):
        self.data = record

    @property
    def status(self) -> str:
        return self.data["status"]

    @property
    def passed(self) -> bool:
        return self.status != "failed"

    @property
    def failures(self) -> list[str]:
        return [f"{c['message']} (hint: {c['hint']})" for c in self.data["checks"] if c["ok"] is False]

    def _repr_html_(self) -> str:
        return step_html(self.data)

    def __repr__(self) -> str:
        return f"StepCheck(step {self.data['step']}: {self.status})"


class Solution:
    """What `show_me` did: the cnmlab commands that build the step, or why it was skipped."""

    def __init__(self, step: int, lines: list[str], skipped: str = ""):
        self.step, self.lines, self.skipped = step, lines, skipped

    def _repr_html_(self) -> str:
        if self.skipped:
            return f'<div class="cnm-solution" style="color:#9a6700">Step {self.step} skipped: {html.escape(self.skipped)}</div>'
        body = "\n".join(f"$ {html.escape(line)}" for line in self.lines) or "(nothing to build: look, then check)"
        return f'<pre class="cnm-solution">{body}</pre>'

    def __repr__(self) -> str:
        return "\n".join(self.lines) or self.skipped


def step_html(record: dict) -> str:
    mark, colour = STATUS[record["status"]]
    rows = []
    for c in runner.distinct(record["checks"]):
        m, col = MARKS[c["ok"]]
        hint = f'<br><span style="color:#0969da">hint: {html.escape(c["hint"])}</span>' if c["ok"] is False and c["hint"] else ""
        rows.append(f'<li><span style="color:{col}">{m}</span> {html.escape(c["message"])}{hint}</li>')
    reason = f' <span style="color:#9a6700">({html.escape(record["reason"])})</span>' if record["reason"] else ""
    return (f'<div class="cnm-check"><b style="color:{colour}">{mark} Step {record["step"]}: '
            f'{html.escape(record["title"])}</b>{reason}<ul style="list-style:none;padding-left:1em">'
            f'{"".join(rows)}</ul></div>')


class Guide:
    def __init__(self, number: int | str, lab: Lab | None = None, start: bool = True):
        self.lab = lab or Lab()
        self.client = self.lab.client
        self.spec = call(find, number)
        self.current = 1
        self._pane = None
        if start:
            self.start()

    # -- the calls the notebook cells make ---------------------------------------------
    def start(self) -> list[str]:
        """Reset the lab world and set the lab up (raises LabError if this cnmlab cannot play it)."""
        self.current = 1
        return call(runner.start, self.client, self.spec)

    def reset(self) -> list[str]:
        return self.start()

    def text(self, number: int | None = None) -> str:
        step = self.spec.step(number or self.current)
        return f"### Step {step.number}/{len(self.spec.steps)}: {step.title}\n\n{step.text}"

    def show_me(self, number: int | None = None) -> Solution:
        step = self.spec.step(number or self.current)
        try:
            return Solution(step.number, call(runner.solve, self.client, self.spec, step))
        except LabError as exc:
            if not step.kernel_optional and not step.requires:
                raise
            return Solution(step.number, [], exc.message)

    def check(self, number: int | None = None, strict: bool = False) -> StepCheck:
        """The step's checks on the live lab. strict: raise AssertionError when one fails."""
        step = self.spec.step(number or self.current)
        result = StepCheck(call(runner.check_step, self.client, self.spec, step).to_json())
        if strict and not result.passed:
            raise AssertionError(f"step {step.number}: " + "; ".join(result.failures))
        return result

    def autograde(self, number: int) -> StepCheck:
        """A step as the grader sees it (an nbgrader test cell): `cnmlab lab check N --step K --json`
        run as a command, the record a teacher collects; raises AssertionError when the step failed
        (a step the kernel cannot do is skipped, and passes)."""
        argv = [sys.executable, "-m", "cnmlab", "lab", "check", str(self.spec.number), "--step", str(number), "--json"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        try:
            (record,) = json.loads(done.stdout)["steps"]
        except (ValueError, KeyError):
            raise AssertionError(f"step {number}: `cnmlab lab check` failed: {done.stderr.strip()}") from None
        result = StepCheck(record)
        if not result.passed:
            raise AssertionError(f"step {number}: " + "; ".join(result.failures))
        return result

    def grade(self) -> dict:
        """The grading record of the whole lab, as `cnmlab lab check N --json` prints it."""
        return call(runner.check, self.client, self.spec)

    # -- the pane ------------------------------------------------------------------------
    def pane(self):
        if self._pane is None:
            self._pane = guide_pane(self)
        return self._pane

    def _repr_mimebundle_(self, **kwargs):
        return self.pane()._repr_mimebundle_(**kwargs)


def markdown_html(text: str) -> str:
    """The small Markdown the lab texts use (paragraphs, ``` blocks, `code`, **bold**) as HTML."""
    out, para, block = [], [], None
    inline = [(re.compile(r"`([^`]+)`"), r"<code>\1</code>"), (re.compile(r"\*\*([^*]+)\*\*"), r"<b>\1</b>")]

    def flush() -> None:
        if para:
            joined = html.escape(" ".join(para))
            for pattern, repl in inline:
                joined = pattern.sub(repl, joined)
            out.append(f"<p>{joined}</p>")
            para.clear()

    for line in text.split("\n"):
        if line.strip().startswith("```"):
            if block is None:
                flush()
                block = []
            else:
                out.append("<pre>" + html.escape("\n".join(block)) + "</pre>")
                block = None
        elif block is not None:
            block.append(line)
        elif line.strip():
            para.append(line.strip())
        else:
            flush()
    flush()
    return "\n".join(out)


def guide_pane(guide: Guide):
    """The lab pane widget: step text and Prev / Next / Check / Show me / Reset."""
    import ipywidgets as w

    title = w.HTML(f"<h3>Lab {guide.spec.number}: {html.escape(guide.spec.title)}</h3>")
    text, result = w.HTML(), w.HTML()
    buttons = {name: w.Button(description=name, layout=w.Layout(width="auto"))
               for name in ("◀ Prev", "Next ▶", "Check", "Show me", "Reset")}

    def show_step() -> None:
        step = guide.spec.step(guide.current)
        text.value = (f"<h4>Step {step.number}/{len(guide.spec.steps)}: {html.escape(step.title)}</h4>"
                      + markdown_html(step.text))
        buttons["◀ Prev"].disabled = guide.current == 1
        buttons["Next ▶"].disabled = guide.current == len(guide.spec.steps)

    def act(fn) -> None:
        result.value = "<i>working…</i>"
        try:
            result.value = fn()._repr_html_()
        except (LabError, CnmError) as exc:
            result.value = error_html(getattr(exc, "message", str(exc)))

    def move(delta: int) -> None:
        guide.current = min(max(1, guide.current + delta), len(guide.spec.steps))
        result.value = ""
        show_step()

    def reset():
        guide.reset()
        show_step()
        return Solution(guide.current, ["cnmlab lab start " + str(guide.spec.number)])

    buttons["◀ Prev"].on_click(lambda _: move(-1))
    buttons["Next ▶"].on_click(lambda _: move(1))
    buttons["Check"].on_click(lambda _: act(guide.check))
    buttons["Show me"].on_click(lambda _: act(guide.show_me))
    buttons["Reset"].on_click(lambda _: act(reset))
    pane = w.VBox([title, text, w.HBox(list(buttons.values())), result], layout=w.Layout(border="1px solid #d0d7de",
                                                                                          padding="0 1em"))
    pane.buttons, pane.text, pane.result = buttons, text, result
    show_step()
    return pane
