"""Layering: the core never imports a UI; the UI layers never import pyroute2 or scapy."""

import subprocess
import sys
from pathlib import Path

import pytest

UI = ("textual", "ipywidgets", "rich")
KERNEL = ("pyroute2", "scapy")


def loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize("module", ["cnmlab.controller", "cnmlab.engine.server", "cnmlab.drivers.bridge"])
def test_core_imports_no_ui(module):
    assert not loaded_after(module) & set(UI)


FRONTS = ["cnmlab.client", "cnmlab.cli"] + [
    f"cnmlab.{p.parent.name}" for p in Path(__file__).parent.parent.glob("cnmlab/*/__init__.py")
    if p.parent.name in ("tui", "notebook")
]


@pytest.mark.parametrize("module", FRONTS)
def test_fronts_import_no_kernel_libraries(module):
    assert not loaded_after(module) & set(KERNEL)


def test_ui_sources_never_name_kernel_libraries():
    root = Path(__file__).parent.parent / "cnmlab"
    for folder in ("tui", "notebook", "cli"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text()
            for lib in KERNEL:
                assert f"import {lib}" not in text and f"from {lib}" not in text, f"{path} imports {lib}"
