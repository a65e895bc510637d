"""Output helpers: rich tables for people, JSON for scripts and graders."""

import json
import sys

from rich.console import Console
from rich.table import Table

console = Console()
if not console.is_terminal:  # into a pipe or a file: whole lines, never wrapped at 80 columns (as docker prints)
    console.soft_wrap = True
WHOLE_ROWS = 10_000  # a table's width when not on a terminal: as wide as its widest row


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=4) + "\n")


def table(columns: list[str], rows: list[list[str]], title: str | None = None) -> None:
    t = Table(title=title, box=None, header_style="bold", pad_edge=False)
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*[str(v) for v in row])
    print_table(t)


def print_table(t: Table) -> None:
    """On a terminal, fit it; elsewhere print whole rows, as `docker network ls | cat` does."""
    (console if console.is_terminal else Console(width=WHOLE_ROWS)).print(t)


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
