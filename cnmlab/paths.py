"""Where the engine keeps its socket (runtime) and its SQLite store (state)."""

import os
from pathlib import Path


def runtime_dir() -> Path:
    if env := os.environ.get("CNMLAB_RUNTIME_DIR"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/run/cnmlab")
    if xdg := os.environ.get("XDG_RUNTIME_DIR"):
        return Path(xdg) / "cnmlab"
    return Path(f"/tmp/cnmlab-{os.getuid()}")


def state_dir() -> Path:
    if env := os.environ.get("CNMLAB_STATE_DIR"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/cnmlab")
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "cnmlab"


def socket_path() -> Path:
    return runtime_dir() / "engine.sock"


def database_path() -> Path:
    return state_dir() / "cnmlab.db"


def log_path() -> Path:
    return state_dir() / "engine.log"
