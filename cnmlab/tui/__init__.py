"""The cnmlab terminal app (Textual): build, attach, probe and watch isolation from one screen.

A client of the engine: every change goes through `cnmlab.client`; it never touches the kernel.
"""

import os

# The stylesheet of every screen but home, and of the dialogs (their CSS_PATH): Textual loads it
# when the first of them opens, so the first frame does not parse it (cnmlab.tcss is home's).
SCREENS_CSS = os.path.join(os.path.dirname(__file__), "screens.tcss")


def run(starter: bool = True) -> int:
    """Open the app on the current lab (building the starter topology on an empty lab if `starter`)."""
    from .app import CnmlabApp

    app = CnmlabApp(starter=starter)
    app.run()
    return app.return_code or 0
