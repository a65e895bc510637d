"""The Jupyter front end: `from cnmlab.notebook import Lab; lab = Lab()`.

A thin layer over `cnmlab.client`, as the TUI is: it never touches the kernel itself. The
widgets (ipywidgets) load only when the dashboard is first shown.
"""

from .lab import Lab
from .results import (
    DiagramResult,
    ExecResult,
    LabError,
    MatrixResult,
    ObjectResult,
    ProbeResult,
    RemovedResult,
    TraceResult,
)
from .state import LabState

__all__ = ["DiagramResult", "ExecResult", "Lab", "LabError", "LabState", "MatrixResult", "ObjectResult", "ProbeResult",
           "RemovedResult", "TraceResult"]
