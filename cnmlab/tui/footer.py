"""The key bar at the bottom of every screen: Textual's Footer, rebuilt only when its keys change.

Textual's Footer rebuilds all its keys each time the screen announces new bindings, and a screen
announces them several times in a row for one change: at start-up the focus, the screen stack and
the first refresh each do, so the home screen's ten keys were built three times before the first
frame (a quarter of that frame's work). Each rebuild here first compares the keys it would show
with those it shows, and skips the work when they are the same.
"""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None

    def _keys(self) -> tuple:
        """What the footer's compose reads: each active binding, whether it is enabled, its tooltip."""
        bindings = tuple((binding, enabled, tooltip) for _, binding, enabled, tooltip in
                         self.screen.active_bindings.values())
        palette = self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE
        return bindings, palette, getattr(self, "combine_groups", None)

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        keys = self._keys()
        if keys == self._shown:
            return
        self._shown = keys
        await super().recompose()
