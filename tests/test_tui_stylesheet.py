"""The app's stylesheet keeps parsed rules only while the theme's variables stay the same
(cnmlab/tui/stylesheet.py): a new theme still re-parses, a mode screen opened later still
gets its CSS. A bare Textual app, headless: no engine, no root needed."""

import asyncio

from textual.app import App
from textual.screen import Screen
from textual.widgets import Static

from cnmlab.tui.stylesheet import ThemeKeptStylesheet


class Other(Screen):
    CSS = "Other Static { color: $secondary; }"

    def compose(self):
        yield Static("other", id="other")


class Themed(App):
    CSS = "Screen { background: $primary; }"
    MODES = {"home": Screen, "other": Other}
    DEFAULT_MODE = "home"

    def __init__(self):
        super().__init__()
        self.stylesheet = ThemeKeptStylesheet(variables=self.stylesheet._variables)


def test_a_new_theme_reparses_and_a_later_mode_gets_its_css():
    async def main():
        app = Themed()
        async with app.run_test() as pilot:
            dark = app.screen.styles.background
            app.theme = "textual-light"
            await pilot.pause()
            light = app.screen.styles.background
            assert light != dark and light == app.current_theme.to_color_system().primary
            app.theme = "textual-dark"
            await pilot.pause()
            assert app.screen.styles.background == dark
            await app.switch_mode("other")
            await pilot.pause()
            other = app.screen.query_one("#other").styles.color
            assert other.rgb == app.current_theme.to_color_system().secondary.rgb

    asyncio.run(main())
