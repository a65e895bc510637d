"""The app's stylesheet: Textual's, keeping the rules it has parsed while the theme stays the same.

Textual parses each CSS source (cnmlab.tcss, the App's, Screen's and each widget class's
DEFAULT_CSS) into rules and caches them per stylesheet, keyed by the source text. But
`set_variables` empties that cache even when the theme's variables are the ones it has, and
`reparse` parses everything again into a new stylesheet that starts with an empty cache. A
screen that is a mode (home is: MODES) meets both before the first frame (`App._init_mode` calls
`refresh_css`), and so does each mode screen opened later: the app's and Textual's base rules
were tokenized three times before the first frame (item 26 of docs/benchmarks.md's history).
Parsed rules are a function of the source and the variables alone, so they are kept here
until the variables change (a new theme); a reparse still rebuilds the rule list from every
source, as Textual's does.
"""

from __future__ import annotations

from textual.css.stylesheet import Stylesheet


class ThemeKeptStylesheet(Stylesheet):
    def set_variables(self, variables: dict[str, str]) -> None:
        if variables == self._variables:
            return  # the same theme: every rule parsed so far still holds
        super().set_variables(variables)

    def reparse(self) -> None:
        """Textual's reparse (a fresh stylesheet, so a source with errors leaves this one as it
        was), with this one's parsed rules handed to it."""
        fresh = type(self)(variables=self._variables)
        fresh._parse_cache = self._parse_cache
        for read_from, (css, is_defaults, tie_breaker, scope) in self.source.items():
            fresh.add_source(css, read_from=read_from, is_default_css=is_defaults, tie_breaker=tie_breaker,
                             scope=scope)
        try:
            fresh.parse()
        except Exception:
            self._invalid_css.update(fresh._invalid_css)  # as Textual does: not parsed again and again
            raise
        self._rules = fresh.rules
        self._rules_map = None
        self.source = fresh.source
        self._require_parse = False
