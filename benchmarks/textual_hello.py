"""The least Textual app: one line of text. `benchmarks.tui.textual_floor` times its first frame."""

from textual.app import App, ComposeResult
from textual.widgets import Static


class Hello(App):
    def compose(self) -> ComposeResult:
        yield Static("The least Textual app: its first frame is the floor of any Textual TUI's.")


if __name__ == "__main__":
    Hello().run()
