"""What the notebook API returns: plain data for assertions, and a rich HTML view for Jupyter.

Every result keeps the engine's JSON in `.data` and exposes its fields as attributes
(`result.outcome`, `result.cells`, ...); `_repr_html_` is what Jupyter shows when a cell ends
with one.
"""

from __future__ import annotations

import json
import shlex
import subprocess

from . import heatmap, ladder
from .diagram import to_svg
from .state import LabState
from .svg import el, root, to_string


class LabError(Exception):
    """The one error type of the notebook API; `.message` is the engine's one-line message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def _repr_html_(self) -> str:
        return error_html(self.message)


def error_html(message: str) -> str:
    return to_string(root("div", f"Error: {message}", class_="cnm-error",
                          style="color:#cf222e;font-family:monospace;white-space:pre-wrap"))


class Result:
    """A JSON answer from the engine with attribute access to its fields."""

    def __init__(self, data):
        self.data = data

    def __getattr__(self, name: str):
        data = self.__dict__.get("data")
        if isinstance(data, dict) and name in data:
            return data[name]
        raise AttributeError(name)

    def __getitem__(self, key):
        return self.data[key]

    def __eq__(self, other) -> bool:
        return isinstance(other, Result) and type(other) is type(self) and other.data == self.data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({json.dumps(self.data)[:200]})"

    def _repr_html_(self) -> str:
        pre = root("pre", json.dumps(self.data, indent=2), class_="cnm-json")
        return to_string(pre)


class ProbeResult(Result):
    @property
    def reachable(self) -> bool:
        return self.data.get("outcome") == "reachable"

    def __str__(self) -> str:
        rtt = f" in {self.data['rtt_ms']:.2f} ms" if self.data.get("rtt_ms") is not None else ""
        line = f"{self.source} → {self.destination} ({self.proto}{'/' + str(self.port) if self.port else ''}, " \
               f"{self.src_ip} → {self.dst_ip}): {self.outcome}{rtt}"
        return line + (f" — {self.reason}" if self.data.get("reason") else "")

    def _repr_html_(self) -> str:
        outcome = self.data.get("outcome", "")
        box = root("div", class_="cnm-probe", data_outcome=outcome, style="font-family:sans-serif")
        el(box, "span", outcome, class_="outcome", style=f"background:{heatmap.OUTCOME_COLORS.get(outcome, '#444')};"
                                                         "color:#fff;padding:1px 8px;border-radius:3px")
        el(box, "span", " " + str(self).split(": ", 1)[0], class_="addresses")
        if self.data.get("rtt_ms") is not None:
            el(box, "span", f" {self.data['rtt_ms']:.2f} ms", class_="rtt")
        if self.data.get("reason"):
            el(box, "div", self.data["reason"], class_="reason", style="color:#57606a")
        return to_string(box)


class MatrixResult(Result):
    @property
    def columns(self) -> list[str]:
        """The destinations: endpoints (`container@network`), or containers for a matrix by container."""
        return heatmap.column_names(self.data)

    def outcome(self, src: str, dst: str) -> str | None:
        for cell in self.data.get("cells", []):
            if cell["from"] == src and cell["to"] == dst:
                return cell["outcome"]
        return None

    def reachable_pairs(self) -> set[tuple[str, str]]:
        return {(c["from"], c["to"]) for c in self.data.get("cells", []) if c["outcome"] == "reachable"}

    def explain(self, src: str, dst: str) -> str:
        for cell in self.data.get("cells", []):
            if cell["from"] == src and cell["to"] == dst:
                return heatmap.explanation(self.data, cell.get("reason") or "")
        return ""

    def _repr_html_(self) -> str:
        return heatmap.html(self.data)


class TraceResult(Result):
    """A traced probe; with the lab's state it also draws the path over the CNM diagram."""

    def __init__(self, data: dict, state: LabState | None = None):
        super().__init__(data)
        self.state = state

    @property
    def path(self):
        from .diagram import trace_path

        return trace_path(self.state, self.data) if self.state else None

    @property
    def seen_hops(self) -> list[dict]:
        return [h for h in self.data.get("hops", []) if h.get("seen")]

    @property
    def rule_text(self) -> str:
        return ladder.describe_rule(self.data.get("rule"))

    def _repr_html_(self) -> str:
        page = ladder.html(self.data)
        if self.state is not None:
            page += to_svg(self.state, self.path)
        return page


class ExecResult(Result):
    """A command run inside a sandbox: its argv, exit code and output."""

    def __init__(self, target: str, argv: list[str], proc: subprocess.CompletedProcess):
        super().__init__({"target": target, "argv": list(argv),
                          "returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr})

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def __str__(self) -> str:
        return self.stdout

    def _repr_html_(self) -> str:
        box = root("div", class_="cnm-exec", data_returncode=self.returncode)
        el(box, "div", f"{self.target} $ {shlex.join(self.argv)}  (exit {self.returncode})",
           style="font-family:monospace;color:#57606a")
        el(box, "pre", self.stdout + (self.stderr or ""), style="margin:0")
        return to_string(box)


class ObjectResult(Result):
    """A network or container as `inspect` shows it (what create/run/connect answer with)."""

    def __init__(self, kind: str, data: dict):
        super().__init__(data)
        self.kind = kind

    @property
    def name(self) -> str:
        return self.data.get("Name", "").lstrip("/")

    @property
    def id(self) -> str:
        return self.data.get("Id", "")

    def _repr_html_(self) -> str:
        box = root("details", class_=f"cnm-{self.kind}")
        el(box, "summary", f"{self.kind} {self.name} ({self.id[:12]})")
        el(box, "pre", json.dumps(self.data, indent=2))
        return to_string(box)


class RemovedResult(Result):
    """What `rm` / `network_rm` removed."""

    def __init__(self, kind: str, names: tuple[str, ...]):
        super().__init__({"kind": kind, "removed": list(names)})

    def _repr_html_(self) -> str:
        return to_string(root("div", f"removed {self.kind} {', '.join(self.removed)}", class_="cnm-removed"))


class DiagramResult(Result):
    """A snapshot of the lab drawn as the CNM diagram."""

    def __init__(self, state: LabState):
        super().__init__({"hosts": [h.name for h in state.hosts], "containers": state.container_names(),
                          "networks": state.network_names()})
        self.state = state

    @property
    def svg(self) -> str:
        return to_svg(self.state)

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_html_(self) -> str:
        return self.svg
