"""The cnmlab terminal app (Textual): build, attach, probe and watch isolation from one screen.

A client of the engine: every change goes through `cnmlab.client`; it never touches the kernel.
"""

import os
import sys

# The stylesheet of every screen but home, and of the dialogs (their CSS_PATH): Textual loads it
# when the first of them opens, so the first frame does not parse it (cnmlab.tcss is home's).
SCREENS_CSS = os.path.join(os.path.dirname(__file__), "screens.tcss")


def run(starter: bool = True) -> int:
    """Open the app on the current lab (building the starter topology on an empty lab if `starter`)."""
    import gc

    gc.disable()  # Textual's import makes no garbage worth collecting (run_app turns the collector back on)
    return run_app(_app_class()(starter=starter))


def _app_class():
    """CnmlabApp, imported without ssl.

    Textual runs on asyncio, and asyncio imports ssl only in case a loop opens a TLS connection:
    it takes `ssl = None` when the import fails. The app's loop opens none (its one connection is
    the engine's Unix socket; `cnmlab serve` runs the app as a child process that talks through a
    pipe), so ssl and OpenSSL's libraries are kept out of the import, 15-20 ms of the first
    frame's CPU (item 26 of docs/benchmarks.md's history). A TLS connection on this process's
    asyncio loop would fail ("stdlib ssl module not available"); any later `import ssl` works."""
    blocked = "ssl" not in sys.modules
    if blocked:
        sys.modules["ssl"] = None  # makes `import ssl` raise ImportError
    try:
        from .app import CnmlabApp
    finally:
        if blocked and sys.modules.get("ssl", "") is None:
            del sys.modules["ssl"]
    return CnmlabApp


def run_app(app) -> int:
    """Run a cnmlab app in this terminal; its exit code.

    Everything imported so far (Textual, rich, the app's modules) lives as long as the process,
    so it is frozen out of the cyclic garbage collector first: otherwise a full collection walks
    all of it just before the first frame (50-65 ms on the class machine, item 20 of
    docs/benchmarks.md's history). Reference counting still frees what the app lets go."""
    import gc

    gc.freeze()
    gc.enable()
    app.run()
    return app.return_code or 0
