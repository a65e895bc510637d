"""A teacher's ordinary nbgrader workflow on a generated lab notebook: generate_assignment,
release, a student's fetch and submit (as their Assignments tab does it), collect, autograde. The solved submission gets full marks;
an unsolved one gets zero for every check."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnmlab.labs import find, notebooks

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
NBGRADER = str(Path(sys.executable).parent / "nbgrader")
COURSE_CONFIG = """
c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "cnmlab"
c.Exchange.root = {exchange!r}
c.Exchange.path_includes_course = True
"""


def nbgrader(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([NBGRADER, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "JUPYTER_CONFIG_DIR": str(cwd / ".jupyter"),  # nbgrader runs alembic
                                 "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert result.returncode == 0, f"nbgrader {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def assignments_tab(action: str, home: Path, exchange: Path) -> None:
    """What the student's JupyterLab "Assignments" tab does (nbgrader's assignment_list extension):
    the exchange's FetchAssignment or Submit, in this process rather than a CLI start-up each."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(home)
    config.CourseDirectory.course_id = "cnmlab"
    config.CourseDirectory.assignment_id = "lab01"
    config.Exchange.root = str(exchange)
    config.Exchange.path_includes_course = True
    config.Exchange.assignment_dir = str(home)
    step = getattr(ExchangeFactory(config=config), action)
    step(coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config), config=config).start()


def solve(release: dict) -> dict:
    """What a student who builds every step writes into the solution cells (here: the show-me calls)."""
    for cell in release["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            text = "".join(cell["source"])
            step = int(text.split("# Step ", 1)[1].split(":", 1)[0])
            cell["source"] = text.replace("raise NotImplementedError()", f"guide.show_me({step})")
    return release


def scores(course: Path, student: str, notebook: str) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submitted = gradebook.find_submission_notebook(notebook, "lab01", student)
        return {grade.name: (grade.auto_score, grade.max_score) for grade in submitted.grades}


def test_generate_collect_autograde(tmp_path, engine):
    lab = find(1)
    course, exchange, student_home = tmp_path / "course", tmp_path / "exchange", tmp_path / "student"
    for d in (course / "source" / "lab01", exchange, student_home):
        d.mkdir(parents=True)
    os.chmod(exchange, 0o777)
    (course / "nbgrader_config.py").write_text(COURSE_CONFIG.format(root=str(course), exchange=str(exchange)))
    # the teacher's source notebook: the generated lab, with SHOW_ME on so that its solutions run
    source = notebooks.render(lab).replace("SHOW_ME = False", "SHOW_ME = True")
    (course / "source" / "lab01" / f"{lab.name}.ipynb").write_text(source)

    try:
        nbgrader(course, "generate_assignment", "lab01", "--force")
        release = json.loads((course / "release" / "lab01" / f"{lab.name}.ipynb").read_text())
        assert "guide.show_me" not in json.dumps([c for c in release["cells"] if
                                                  c["metadata"].get("nbgrader", {}).get("solution")])
        nbgrader(course, "release_assignment", "lab01", "--force")

        # a student (this user) fetches, solves and submits through the exchange; the teacher collects
        assignments_tab("FetchAssignment", student_home, exchange)
        fetched = student_home / "cnmlab" / "lab01" / f"{lab.name}.ipynb"  # path_includes_course
        fetched.write_text(json.dumps(solve(json.loads(fetched.read_text()))))
        assignments_tab("Submit", student_home, exchange)
        nbgrader(course, "collect", "lab01")
        solver = next(p.name for p in (course / "submitted").iterdir())

        # a second student who handed the release in untouched (nbgrader's manual submitted/ layout)
        untouched = course / "submitted" / "idle-student" / "lab01"
        untouched.mkdir(parents=True)
        shutil.copy(course / "release" / "lab01" / f"{lab.name}.ipynb", untouched)

        nbgrader(course, "autograde", "lab01", "--create", "--force")
    finally:
        engine.reset()

    checks = {f"step{s.number}-check": len(s.checks) for s in lab.steps if s.checks}
    solved, unsolved = scores(course, solver, lab.name), scores(course, "idle-student", lab.name)
    assert {name: solved[name] for name in checks} == {name: (float(p), float(p)) for name, p in checks.items()}
    assert {name: unsolved[name][0] for name in checks} == {name: 0.0 for name in checks}
