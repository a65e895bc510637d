"""Layering, as the import-linter contracts in pyproject.toml declare it.

UI -> client -> engine -> controller -> drivers -> osl; the clients and UIs never import
pyroute2 or scapy; the core never imports a UI; no import cycles among cnmlab's modules and
packages. The contracts read every import, also those inside functions, so a lazy import cannot
break a layer unnoticed.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_the_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
