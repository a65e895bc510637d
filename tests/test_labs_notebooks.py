"""The lab notebooks are generated from the lab definitions and must agree with them; each runs
top to bottom in a real Jupyter kernel (nbclient), and the lab pane widget plays a lab."""

import json
import shutil
from pathlib import Path

import pytest

from cnmlab.labs import load_all, notebooks, runner

ROOT = Path(__file__).resolve().parent.parent
LABS = load_all()


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_notebook_agrees_with_its_definition(lab):
    path = notebooks.path_of(lab, ROOT / "labs")
    assert path.exists(), f"{path.name} is missing: run python -m cnmlab.labs.notebooks"
    assert path.read_text() == notebooks.render(lab), f"{path.name} drifted: run python -m cnmlab.labs.notebooks"


def test_every_lab_notebook_has_a_definition():
    generated = {p.name for p in (ROOT / "labs").glob("[0-9][0-9]-*.ipynb")} - {"00-quickstart.ipynb"}
    assert generated == {f"{lab.name}.ipynb" for lab in LABS}


def test_check_mode_finds_a_hand_edited_notebook(tmp_path, capsys):
    for path in (ROOT / "labs").glob("0[1-6]-*"):
        shutil.copy(path, tmp_path)
    assert notebooks.main(["--check", "--dir", str(tmp_path)]) == 0
    edited = tmp_path / "02-single-host-bridge.ipynb"
    nb = json.loads(edited.read_text())
    nb["cells"][2]["source"] = ["## Step 1: something else\n"]
    edited.write_text(json.dumps(nb))
    assert notebooks.main(["--check", "--dir", str(tmp_path)]) == 1
    assert "stale notebooks (run python -m cnmlab.labs.notebooks): 02-single-host-bridge.ipynb" in capsys.readouterr().err
    assert notebooks.main(["--dir", str(tmp_path)]) == 0
    assert edited.read_text() == notebooks.render(LABS[1])


def test_each_step_has_its_text_a_solution_cell_and_an_autograded_check():
    for lab in LABS:
        cells = notebooks.build(lab)["cells"]
        sources = ["".join(c["source"]) for c in cells]
        for step in lab.steps:
            heading = f"## Step {step.number}: {step.title}\n\n{step.text}"  # (a challenge's hints follow)
            text = next(i for i, source in enumerate(sources) if source.startswith(heading))
            check = cells[text + 1 + bool(step.solution)]
            assert f"guide.autograde({step.number})" in "".join(check["source"])
            assert f"cnmlab lab check {lab.number} --step {step.number} --json" in "".join(check["source"])
            graded = check["metadata"]["nbgrader"]
            assert graded["locked"] and graded["grade"] == bool(step.checks)
            assert graded.get("points", 0) == (len(step.checks) if step.checks else 0)
            if step.solution:
                solution = cells[text + 1]
                assert solution["metadata"]["nbgrader"]["solution"] and not solution["metadata"]["nbgrader"]["grade"]
                assert "### BEGIN SOLUTION" in "".join(solution["source"])
        ids = [c["metadata"]["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c["metadata"]]
        assert len(ids) == len(set(ids)), "nbgrader needs unique grade ids"


def execute(path: Path, show_me: bool):
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if show_me:
        nb.cells[1].source = nb.cells[1].source.replace("SHOW_ME = False", "SHOW_ME = True")
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


# Every guided lab, and one troubleshooting lab (they all play through the same cells; each is
# graded before and after its fix in test_labs_challenges.py).
PLAYED = [lab for lab in LABS if not lab.challenge] + [lab for lab in LABS if lab.challenge][:1]


@pytest.mark.kernel
@pytest.mark.slow
@pytest.mark.parametrize("lab", PLAYED, ids=lambda lab: lab.name)
def test_lab_notebook_runs_top_to_bottom(engine, lab):
    """With SHOW_ME the notebook plays the whole lab: every step's checks must pass (strict)."""
    missing = runner.lab_missing(engine, lab)
    if missing:
        pytest.skip(f"lab {lab.number}: " + "; ".join(missing))
    try:
        outputs = execute(notebooks.path_of(lab, ROOT / "labs"), show_me=True)
    finally:
        if any("plugins" in s.requires for s in lab.steps) and runner.Live(engine).missing("plugins") is None:
            for plugin in engine.plugins()["Remote"]:
                if plugin["Pid"]:
                    engine.plugin_stop(plugin["Name"], force=True)
        engine.reset()
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), "the lab pane"
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert html.count('class="cnm-check"') == len(lab.steps)
    assert "0 failed" in "".join(o.get("text", "") for o in outputs)


@pytest.mark.kernel
@pytest.mark.slow
def test_a_student_running_the_notebook_sees_hints(engine):
    """Without SHOW_ME nothing is built for the student: the first check cell stops with what is
    missing and a hint (an nbgrader test cell fails by raising)."""
    import nbclient

    try:
        execute(notebooks.path_of(LABS[0], ROOT / "labs"), show_me=False)
        raise AssertionError("the first check cell should have failed")
    except nbclient.exceptions.CellExecutionError as exc:
        error = str(exc)
    finally:
        engine.reset()
    assert "guide.autograde(1)" in error and "step 1: " in error
    assert "there is no network net-a" in error and "hint: try `cnmlab network create net-a`" in error


@pytest.mark.kernel
def test_lab_pane_widget_plays_a_lab(lab):
    """The pane's buttons, clicked in-process: Show me builds the step, Check passes it, Next and
    Prev move through the steps, Reset starts over."""
    from cnmlab.notebook import Lab
    from cnmlab.notebook.guide import Guide

    pane = Guide(1, Lab(client=lab)).pane()
    buttons = pane.buttons
    assert "Step 1/5: Two networks, two containers" in pane.text.value and buttons["◀ Prev"].disabled
    buttons["Check"].click()
    assert "✗ Step 1" in pane.result.value and "hint:" in pane.result.value
    buttons["Show me"].click()
    assert "$ cnmlab network create net-a" in pane.result.value
    buttons["Check"].click()
    assert "✓ Step 1" in pane.result.value and "✗" not in pane.result.value
    buttons["Next ▶"].click()
    assert "Step 2/5" in pane.text.value and pane.result.value == ""
    buttons["◀ Prev"].click()
    assert "Step 1/5" in pane.text.value
    buttons["Reset"].click()
    assert not [c for c in lab.containers()]
    buttons["Check"].click()
    assert "there is no network net-a" in pane.result.value
