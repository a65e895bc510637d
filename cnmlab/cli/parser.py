"""argparse's parser as the CLI uses it: the same parsing, errors and help, built for one command.

A command pays for every parser it builds. argparse builds all subcommands' parsers up front,
0.3-1 ms each (each looks up its translations on disk, and each argument makes a help
formatter); here a subcommand's parser is built when the command line chooses it, so `cnmlab ps`
builds the parser of `ps`, not of the 13 other commands its module registers. The calls a
module makes on a parser not yet built are kept and made on it when it is.

The help formatter asks os for the terminal's width, once, the way shutil does: argparse's own
asks `shutil.get_terminal_size` for every argument, and shutil loads zlib, bz2 and lzma (a tenth
of a plain command's start-up).
"""

from __future__ import annotations

import argparse
import os
import sys

_columns: int | None = None


def terminal_columns(fallback: int = 80) -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else stdout's terminal, else `fallback`."""
    global _columns
    if _columns is None:
        try:
            _columns = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            _columns = 0
        if _columns <= 0:
            try:
                _columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
            except (AttributeError, ValueError, OSError):
                _columns = 0
    return _columns or fallback


class HelpFormatter(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None,
                 **kwargs):
        if width is None:
            width = terminal_columns() - 2  # as argparse's own
        super().__init__(prog, indent_increment, max_help_position, width, **kwargs)


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _Subcommands)


class _Calls:
    """The calls made on a parser (and on what they return) before it exists."""

    def __init__(self) -> None:
        self._calls: list[tuple[str, tuple, dict, _Calls]] = []

    def __getattr__(self, method: str):
        def call(*args, **kwargs):
            result = _Calls()
            self._calls.append((method, args, kwargs, result))
            return result

        return call

    def make_on(self, target):
        for method, args, kwargs, result in self._calls:
            result.make_on(getattr(target, method)(*args, **kwargs))
        return target


class _Unbuilt(_Calls):
    def __init__(self, parser_class: type, kwargs: dict) -> None:
        super().__init__()
        self._parser_class, self._kwargs = parser_class, kwargs

    def build(self) -> argparse.ArgumentParser:
        return self.make_on(self._parser_class(**self._kwargs))


class _BuiltOnLookup(dict):
    """Subcommand name -> its parser, built the first time the name is looked up (argparse only
    tests names with `in` and takes the chosen one's parser with `[]`)."""

    def __getitem__(self, name: str):
        parser = super().__getitem__(name)
        if isinstance(parser, _Unbuilt):
            unbuilt, parser = parser, parser.build()
            for key in [k for k, v in self.items() if v is unbuilt]:  # the name and its aliases
                self[key] = parser
        return parser


class _Subcommands(argparse._SubParsersAction):  # noqa: SLF001 - argparse's registered action class
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = _BuiltOnLookup()

    def add_parser(self, name: str, **kwargs):
        """argparse's add_parser (prog, aliases, the help line), with the parser left unbuilt."""
        parser_class = self._parser_class
        self._parser_class = lambda **made_with: _Unbuilt(parser_class, made_with)
        try:
            return super().add_parser(name, **kwargs)
        finally:
            self._parser_class = parser_class
