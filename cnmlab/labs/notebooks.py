"""Write `labs/NN-slug.ipynb` from the lab definitions, so notebook and definition never drift.

    python -m cnmlab.labs.notebooks            # (re)write every lab's notebook
    python -m cnmlab.labs.notebooks --check    # exit 1 if a notebook differs from its definition

A notebook shows the lab pane (the same widget as the TUI's pane, in Jupyter), then one section
per step: its text, a cell where the student builds it, and a cell that checks it. The notebooks
are nbgrader source notebooks as well: the build cells are solution cells (`### BEGIN SOLUTION`),
the check cells autograded tests (points: one per check) that run `cnmlab lab check N --json`.
`SHOW_ME = True` in the first cell makes the solution cells apply the "show me" solutions: that
is how CI runs each notebook top to bottom, and how a teacher's nbgrader source passes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .spec import LabSpec, labs_dir, load_all

HEADER = """\
Run the first cell: it resets the lab world and sets this lab up. The pane under it plays the
lab step by step (**Prev / Next / Check / Show me / Reset**); the sections below are the same
steps as notebook cells. Build each step yourself in its cell (with `lab`, whose calls mirror the
`cnmlab` command, or with `cnmlab` in a terminal), then run the step's check cell: a failed check
stops with what is wrong and a hint. Stuck? `guide.show_me(K)` applies a step's solution."""

# nbgrader (schema 3): the solution cells are solutions, each check cell is an autograded test
# worth a point per check, and the rest is locked so a student cannot change what is graded.
NBGRADER_SCHEMA = 3


def _source(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": _source(text)}


def _code(text: str, nbgrader: dict | None = None) -> dict:
    metadata = {"nbgrader": {"schema_version": NBGRADER_SCHEMA, "task": False, **nbgrader}} if nbgrader else {}
    return {"cell_type": "code", "execution_count": None, "metadata": metadata, "outputs": [], "source": _source(text)}


def _locked(grade_id: str) -> dict:
    return {"grade": False, "solution": False, "locked": True, "grade_id": grade_id}


def _solution(lab: LabSpec, step) -> dict:
    return _code(f"# Step {step.number}: build it here, with `lab` (its calls mirror the `cnmlab` command) "
                 "or in a terminal.\n"
                 "### BEGIN SOLUTION\n"
                 f"if SHOW_ME:\n    display(guide.show_me({step.number}))\n"
                 "### END SOLUTION",
                 {"grade": False, "solution": True, "locked": False, "grade_id": f"step{step.number}-build"})


def _test(lab: LabSpec, step) -> dict:
    """The step's autograded test: `cnmlab lab check N --step K --json`, the grader's source of truth."""
    graded = {"grade": True, "solution": False, "locked": True, "points": len(step.checks),
              "grade_id": f"step{step.number}-check"}
    return _code(f"guide.autograde({step.number})  # `cnmlab lab check {lab.number} --step {step.number} --json`: "
                 "fails this cell when the step fails",
                 graded if step.checks else _locked(f"step{step.number}-check"))


def _hints(step) -> str:
    """A troubleshooting step's hints, each folded until clicked: symptom, then tool, then cause."""
    return "".join(f"\n\n<details><summary>Hint {i}</summary>\n\n{h}\n\n</details>"
                   for i, h in enumerate(step.hints, 1))


def build(lab: LabSpec) -> dict:
    """The notebook of a lab, as nbformat 4 JSON (deterministic: cell ids derive from positions)."""
    cells = [
        _markdown(f"# Lab {lab.number}: {lab.title}\n\n"
                  + (f"**Symptom:** {lab.symptom}\n\n" if lab.symptom else "") + f"{lab.intro}\n\n{HEADER}"),
        _code("from cnmlab.notebook import Lab, LabError\n"
              "from cnmlab.notebook.guide import Guide\n\n"
              "SHOW_ME = False  # True: each step's solution cell builds the step for you (a teacher's nbgrader source)\n\n"
              f"lab = Lab()\nguide = Guide({lab.number}, lab)  # resets the lab world and sets lab {lab.number} up\n"
              "guide", _locked("setup")),
    ]
    for step in lab.steps:
        cells.append(_markdown(f"## Step {step.number}: {step.title}\n\n{step.text}{_hints(step)}"))
        if step.solution:
            cells.append(_solution(lab, step))
        cells.append(_test(lab, step))
    cells.append(_markdown("## Your grade\n\nThe record a teacher collects "
                           f"(the same as `cnmlab lab check {lab.number} --json`)."))
    cells.append(_code("grade = guide.grade()\n"
                       "print(f\"{grade['passed']}/{grade['total']} steps passed, {grade['failed']} failed, "
                       "{grade['skipped']} skipped\")\n"
                       "assert not (SHOW_ME and grade['failed']), grade", _locked("grade")))
    for i, cell in enumerate(cells):
        cell["id"] = f"lab{lab.number:02d}-{i:02d}"
    return {"cells": cells, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}, "cnmlab": {"generated_from": f"{lab.name}.yaml"}},
        "nbformat": 4, "nbformat_minor": 5}


def render(lab: LabSpec) -> str:
    return json.dumps(build(lab), indent=1, ensure_ascii=False) + "\n"


def path_of(lab: LabSpec, directory: Path) -> Path:
    return directory / f"{lab.name}.ipynb"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnmlab.labs.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a notebook is stale")
    parser.add_argument("--dir", type=Path, default=None, help="the labs directory (default: the repository's)")
    args = parser.parse_args(argv)
    directory = args.dir or labs_dir()
    stale = []
    for lab in load_all(directory):
        path, text = path_of(lab, directory), render(lab)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path.name)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print(f"stale notebooks (run python -m cnmlab.labs.notebooks): {', '.join(stale)}", file=sys.stderr)
        return 1
    print(("would rewrite: " if args.check else "wrote: ") + (", ".join(stale) or "nothing, all up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
