"""The live events screen: the engine's event stream, as sentences, as it happens.

The app follows `/events` in a worker and publishes each event; this screen writes it to a log.
Changes made by any client (the CLI in another terminal, a notebook) show up here at once.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, RichLog

from . import SCREENS_CSS
from .event_text import event_line, event_name
from .footer import Footer


class EventsScreen(Screen):
    CSS_PATH = SCREENS_CSS
    AUTO_FOCUS = "#events-log"
    BINDINGS = [Binding("ctrl+l", "clear", "Clear"), Binding("s", "toggle_steps", "Steps on/off")]

    def __init__(self):
        super().__init__()
        self.show_steps = True

    def compose(self) -> ComposeResult:
        yield Header()
        log = RichLog(id="events-log", wrap=True, max_lines=5000, auto_scroll=True)
        log.border_title = "engine events (live)"
        yield log
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        for event in self.app.event_history:
            self.add_event(event)
        self.app.lab_event.subscribe(self, self.add_event)

    def add_event(self, event) -> None:
        if not self.show_steps and event_name(event) == "StepDone":
            return
        self.query_one(RichLog).write(event_line(event))

    def action_clear(self) -> None:
        self.query_one(RichLog).clear()

    def action_toggle_steps(self) -> None:
        self.show_steps = not self.show_steps
        self.notify("build steps shown" if self.show_steps else "build steps hidden")
