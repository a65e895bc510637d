"""The `cnmlab` command: Docker's network verbs and flags, as a thin client of the engine.

Each command group lives in its own module with a `register(subparsers)`; every handler makes
one or two client calls and renders the answer. `COMMANDS` says which module defines each
top-level command, so `cnmlab network ls` imports the network module and nothing else: a
student's script of 50 commands pays for Python's start-up, not for the TUI, asyncio or the
guided labs (tests/test_cli_imports.py keeps it so). A new command goes into `COMMANDS`.
"""

from __future__ import annotations

import importlib
import sys

from ..errors import CnmError

# top-level command -> the module in cnmlab/cli that registers it (imported only when used)
COMMANDS = {
    "engine": "engine",
    "network": "network",
    "run": "container", "create": "container", "ps": "container", "rm": "container", "inspect": "container",
    "exec": "container", "start": "container", "stop": "container", "restart": "container", "kill": "container",
    "wait": "container", "logs": "container", "port": "container",
    "host": "host",
    "reset": "lab", "shell": "lab", "demo": "lab", "tui": "lab",
    "plugin": "plugin",
    "probe": "probe", "ping": "probe", "matrix": "probe", "trace": "probe",
    "service": "service",
    "lab": "lab_guide",
    "docker-env": "docker", "context": "docker",
    "serve": "serve",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))  # `cnmlab --help` lists them in this order
# Command lines that open the app: plain `cnmlab`, and `cnmlab tui` (what `cnmlab serve` runs for
# each browser). They build no parser: argparse and gettext would add ~6 ms of CPU to the first frame.
APP_ARGVS = ([], ["--empty"], ["tui"], ["tui", "--empty"])


def _command_in(argv: list[str]) -> str | None:
    """The top-level command word (the first argument that is not an option of `cnmlab` itself)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(modules: tuple[str, ...] = COMMAND_MODULES):
    """The argparse parser of these command modules (argparse loads here, not for the app)."""
    from .parser import Parser

    parser = Parser(
        prog="cnmlab",
        description="Learn Docker networking by building it for real, in private Linux namespaces.",
    )
    parser.set_defaults(func=None)
    parser.add_argument("--empty", action="store_true", help="open the app without building the starter topology")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given in APP_ARGVS:
        from types import SimpleNamespace

        from .lab import default_main

        return default_main(SimpleNamespace(empty="--empty" in given)) or 0
    module = COMMANDS.get(_command_in(given))  # unknown or none: the whole parser, for its help and errors
    parser = build_parser((module,) if module else COMMAND_MODULES)
    args, extra = parser.parse_known_args(given)
    if extra:  # one line, naming Docker's own command when it is a Docker flag cnmlab does not take
        from .container import unknown_flags

        return unknown_flags(args, extra)
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
