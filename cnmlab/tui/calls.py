"""Engine calls from the TUI: one line a person can read for every way a call can fail."""

from __future__ import annotations

from ..errors import CnmError, EngineUnavailable


def readable(exc: BaseException) -> str:
    """The engine's own one-line message, or a plain sentence for transport failures (never a traceback)."""
    if isinstance(exc, EngineUnavailable):
        return f"the engine is not available: {exc.message}"
    if isinstance(exc, CnmError):
        if exc.message.startswith("page not found: "):  # an engine from before this feature existed
            route = exc.message.removeprefix("page not found: ")
            return f"this engine does not offer {route} yet (restart it with `cnmlab engine stop` after updating)"
        return exc.message
    if isinstance(exc, (ConnectionError, FileNotFoundError)):
        return "cannot reach the engine (is it running? `cnmlab engine status`)"
    if isinstance(exc, TimeoutError):
        return "the engine did not answer in time"
    if isinstance(exc, OSError):
        return f"cannot reach the engine: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"
