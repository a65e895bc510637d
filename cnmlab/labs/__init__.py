"""Guided labs: one plain-data definition per lab (`labs/NN-*.yaml`), played by the CLI
(`cnmlab lab`), the TUI's lab pane and the generated notebooks.

spec.py     the definition: steps, "show me" solutions (client calls as data), declarative checks
checks.py   the check kinds, evaluated on the live lab through the client
live.py     the live lab as checks see it: names to addresses, test traffic
runner.py   start, solve, check and grade
requirements.py  which optional parts of cnmlab the engine has (a lab requiring a missing one is skipped)
notebooks.py  writes labs/NN-*.ipynb from the definitions
"""

from .spec import Call, CheckSpec, LabSpec, LabSpecError, Step, find, load, load_all

__all__ = ["Call", "CheckSpec", "LabSpec", "LabSpecError", "Step", "find", "load", "load_all"]
