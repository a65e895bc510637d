"""The `cnmlab` command: Docker's network verbs and flags, as a thin client of the engine.

Each command group lives in its own module with a `register(subparsers)`; every handler makes
one or two client calls and renders the answer.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import CnmError

COMMAND_MODULES = ("engine", "network", "container", "host", "lab", "plugin", "probe", "service", "lab_guide", "serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnmlab",
        description="Learn Docker networking by building it for real, in private Linux namespaces.",
    )
    parser.set_defaults(func=None)
    parser.add_argument("--empty", action="store_true", help="open the app without building the starter topology")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given in ([], ["--empty"]):  # plain `cnmlab` opens the app: skip importing every command group
        from .lab import default_main

        return default_main(argparse.Namespace(empty=bool(given))) or 0
    parser = build_parser()
    args = parser.parse_args(argv)
    func = args.func
    if func is None:
        from .lab import default_main

        func = default_main
    try:
        return func(args) or 0
    except CnmError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
