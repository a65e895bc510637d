"""Output helpers: rich tables for people, JSON for scripts and graders.

rich loads only when needed (its import costs more than the rest of a command): `inspect`,
`--json` and plain tables print without it.
"""

import json
import os
import sys


_console = None
WHOLE_ROWS = 10_000  # a table's width off a terminal: as wide as its widest row (as `docker network ls | cat`)


def shared_console():
    """The one rich Console of this process, made when a command first prints through rich."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console()
        if not _console.is_terminal:  # into a pipe or a file: whole lines, never wrapped at 80 columns
            _console.soft_wrap = True
    return _console


def __getattr__(name: str):
    if name == "console":  # `from .render import console` still works
        return shared_console()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

def each(names: list[str], act) -> int:
    """Docker's habit for `NAME...`: act on each in turn and print what `act` returns (the name
    when nothing); a failure is one `Error:` line and the rest go on; 1 if any failed."""
    from ..errors import CnmError

    status = 0
    for name in names:
        try:
            result = act(name)
            print(name if result is None else result)
        except CnmError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            status = 1
    return status


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=4) + "\n")


def table(columns: list[str], rows: list[list[str]], title: str | None = None) -> None:
    """A borderless table, as rich draws it (two spaces between columns, cells padded).

    Plain ASCII tables that fit the terminal are written directly: importing rich costs more
    than the rest of a command. Anything rich would treat differently (a title, markup, emoji
    codes, wide characters, folding to the width) goes through rich itself."""
    cells = [list(columns)] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    if title is None and sum(widths) + 2 * (len(widths) - 1) <= _width() and all(map(_plain, cells)):
        bold = sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        lines = []
        for n, row in enumerate(cells):
            padded = [cell.ljust(w) for cell, w in zip(row, widths)]
            if n == 0 and bold:
                padded = [f"\x1b[1m{cell}\x1b[0m" for cell in padded]
            lines.append("  ".join(padded) + "\n")
        sys.stdout.write("".join(lines))
        return
    from rich.table import Table

    t = Table(title=title, box=None, header_style="bold", pad_edge=False)
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*[str(v) for v in row])
    print_table(t)


def print_table(t) -> None:
    """On a terminal, fit it; elsewhere print whole rows, as `docker network ls | cat` does."""
    console = shared_console()
    if console.is_terminal:
        console.print(t)
    else:
        from rich.console import Console

        Console(width=WHOLE_ROWS).print(t)


def _plain(row: list[str]) -> bool:
    """Cells rich prints as they are: printable ASCII, no [markup], no :emoji: codes."""
    return all(cell.isascii() and cell.isprintable() and "[" not in cell and cell.count(":") < 2 for cell in row)


def _width() -> int:
    """The width rich's Console would use: $COLUMNS, else the terminal's, else 80; off a terminal, whole rows."""
    if not sys.stdout.isatty():
        return WHOLE_ROWS
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        return int(columns)
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns
        except OSError:
            continue
    return 80


def key_values(pairs: list[str] | None, what: str) -> dict[str, str]:
    """Parse repeated KEY=VALUE flags (-o, --label, --aux-address)."""
    from ..errors import InvalidParameter

    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not key or (not sep and what != "option"):  # docker takes a bare `--opt encrypted` as encrypted=""
            raise InvalidParameter(f"invalid {what} \"{pair}\": use KEY=VALUE")
        out[key] = value
    return out
