"""The cnmlab terminal app (Textual): build, attach, probe and watch isolation from one screen.

A client of the engine: every change goes through `cnmlab.client`; it never touches the kernel.
"""


def run(starter: bool = True) -> int:
    """Open the app on the current lab (building the starter topology on an empty lab if `starter`)."""
    from .app import CnmlabApp

    app = CnmlabApp(starter=starter)
    app.run()
    return app.return_code or 0
