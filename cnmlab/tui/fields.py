"""Text fields on screens whose keys are letters (the probe's s/t/w, the matrix's r/f, the app's
h/m/e/?). A focused field takes letters as text, so its screen never puts the cursor in it by
itself, and inside it the footer offers the keys that still act: enter, and escape to leave
the field (not the screen), after which the letters are keys again."""

from textual.binding import Binding
from textual.widgets import Input


class ScreenField(Input):
    BINDINGS = [Binding("escape", "leave", "Leave field")]

    def __init__(self, *args, leave_to: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.leave_to = leave_to  # the widget that takes the focus when escape leaves the field

    def action_leave(self) -> None:
        self.screen.query_one(self.leave_to).focus()


def keep_focus_off_fields(screen, home: str) -> None:
    """Coming back to a screen: its keys work at once, rather than typing into the field left last."""
    if isinstance(screen.focused, Input):
        screen.query_one(home).focus()
