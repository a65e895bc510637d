"""Where the engine keeps its socket (runtime) and its SQLite store (state).

The paths are pathlib Paths, except the socket's for the client (`socket_file`): a plain CLI
command needs only that one, and pathlib (with urllib.parse and ipaddress) would be a tenth of
its start-up.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (5 ms of a CLI command)
if TYPE_CHECKING:
    from pathlib import Path


def _runtime_dir() -> str:
    if env := os.environ.get("CNMLAB_RUNTIME_DIR"):
        return env
    if os.geteuid() == 0:
        return "/run/cnmlab"
    if xdg := os.environ.get("XDG_RUNTIME_DIR"):
        return os.path.join(xdg, "cnmlab")
    return f"/tmp/cnmlab-{os.getuid()}"


def runtime_dir() -> Path:
    from pathlib import Path

    return Path(_runtime_dir())


def state_dir() -> Path:
    from pathlib import Path

    if env := os.environ.get("CNMLAB_STATE_DIR"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/cnmlab")
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "cnmlab"


def socket_path() -> Path:
    from pathlib import Path

    return Path(socket_file())


def socket_file() -> str:
    """socket_path() as a str, without loading pathlib."""
    return os.path.join(_runtime_dir(), "engine.sock")


def database_path() -> Path:
    return state_dir() / "cnmlab.db"


def log_path() -> Path:
    return state_dir() / "engine.log"


def private_dir(path: Path) -> Path:
    """Make `path` (the runtime or state directory) if missing, and keep it to its user alone.

    On a shared machine (a class on one JupyterHub server) another user could make the directory
    first, e.g. /tmp/cnmlab-UID, and put a socket of theirs in it; so a directory owned by someone
    else is refused, and one's own is closed to group and others (the store holds the lab)."""
    from .errors import CnmError

    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    owner = path.stat().st_uid
    if owner != os.geteuid():
        raise CnmError(f"{path} belongs to another user (uid {owner}), not to you: cnmlab keeps its socket and "
                       "store only in a directory of your own (set CNMLAB_RUNTIME_DIR / CNMLAB_STATE_DIR)")
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def foreign_owner(path: Path | str) -> int | None:
    """The uid owning `path` when it exists and is not the caller's (a socket to refuse)."""
    try:
        owner = os.stat(path).st_uid
    except FileNotFoundError:
        return None
    return owner if owner != os.geteuid() else None
