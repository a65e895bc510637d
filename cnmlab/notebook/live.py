"""Follow the engine's event stream in a background thread, so views redraw without re-running cells.

The watcher uses its own non-autostarting Client: if the engine stops, the watcher waits for it to
come back instead of starting a new one behind the user's back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..client import Client

RETRY_SECONDS = 1.0


class EventWatcher:
    def __init__(self, socket_path: str, on_event: Callable[[object], None],
                 on_error: Callable[[Exception], None] | None = None):
        self.client = Client(socket_path, autostart=False)
        self.on_event = on_event
        self.on_error = on_error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, name="cnmlab-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop delivering events now; the thread itself ends at the stream's next line or close."""
        self._stop.set()

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                for event in self.client.events():
                    if self._stop.is_set():
                        return
                    self.on_event(event)
            except Exception as exc:  # the engine went away, or a callback failed: report and go on
                if self._stop.is_set():
                    return
                if self.on_error:
                    self.on_error(exc)
            self._stop.wait(RETRY_SECONDS)
