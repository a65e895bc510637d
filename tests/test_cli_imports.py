"""A plain CLI command imports only what it needs (cnmlab/cli/__init__.py: COMMANDS).

Speed itself belongs in benchmarks; this checks the cause: a command that asks the engine one
question and prints the answer must not load asyncio (AsyncClient), textual, scapy, yaml
(guided labs), rich.markdown or the kernel libraries; nor msgspec and the API's types (it sends
no body) or subprocess (it runs no process); nor the standard library's socket module (the
request uses the C socket type), pathlib, urllib.parse (with ipaddress), threading, typing,
struct or shutil (argparse's help formatter loads it for every argument; cli/parser.py's does not).
"""

import argparse
import json
import subprocess
import sys

import pytest

from cnmlab import cli

HEAVY = ("asyncio", "textual", "scapy", "yaml", "pyroute2", "rich.markdown", "cnmlab.labs", "cnmlab.tui",
         "http.client", "msgspec", "cnmlab.api.types", "subprocess",  # no body sent, no process run
         "socket", "selectors", "pathlib", "urllib", "ipaddress", "threading", "typing", "struct", "shutil",
         "cnmlab.engine_log")
# Run the real CLI entry point, then report which modules it loaded.
WRAPPER = ("import json, sys\nfrom cnmlab.cli import main\nrc = main(sys.argv[1:])\n"
           "print('MODULES ' + json.dumps(sorted(sys.modules)), file=sys.stderr)\nsys.exit(rc)")


def modules_loaded_by(*argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    result = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True, timeout=60)
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith("MODULES "))
    return result, set(json.loads(line.removeprefix("MODULES ")))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_every_command_is_in_the_table():
    """A command a module registers but COMMANDS does not name would only work from the full parser."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(cli.COMMANDS)
    for command, module in cli.COMMANDS.items():
        assert command in cli.build_parser((module,))._actions[-1].choices, (command, module)


def test_every_subcommand_parser_builds():
    """Subcommands' parsers are built when chosen (cli/parser.py): build each one here, so a
    mistake in one (a clashing flag) fails a test, not only the student who types that command."""
    def walk(parser, prog):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name in action.choices:
                    sub = action.choices[name]
                    assert isinstance(sub, argparse.ArgumentParser), (prog, name)
                    if sub.prog not in built:  # (an alias names a parser already walked)
                        built.append(sub.prog)
                        walk(sub, sub.prog)

    built: list[str] = []
    walk(cli.build_parser(), "cnmlab")
    assert "cnmlab network ls" in built and "cnmlab run" in built and "cnmlab lab check" in built


@pytest.mark.kernel
def test_plain_commands_import_nothing_heavy(lab):
    lab.network_create("imports-net", subnet="10.79.0.0/24")
    lab.run("imports-c", network="imports-net")
    for argv in (["network", "ls"], ["ps"], ["inspect", "imports-c"], ["network", "inspect", "imports-net"],
                 ["network", "ls", "--json"]):
        result, modules = modules_loaded_by(*argv)
        assert result.returncode == 0, result.stderr
        assert "imports-" in result.stdout, argv
        assert heavy(modules) == [], (argv, heavy(modules))
    assert "rich" not in {m.split(".")[0] for m in modules_loaded_by("inspect", "imports-c")[1]}


# The app's command lines up to the app's run: no parser (argparse) and no ssl (cnmlab/tui/__init__.py,
# `_app_class`), and ssl still importable afterwards for any other code.
APP_WRAPPER = ("import sys\nimport cnmlab.tui as tui\n"
               "tui.run_app = lambda app: print('LOADED', type(app).__name__, 'argparse' in sys.modules,"
               " 'ssl' in sys.modules, __import__('asyncio.base_events').base_events.ssl) or 0\n"
               "from cnmlab.cli import main\nrc = main(sys.argv[1:])\nimport ssl\nssl.create_default_context()\n"
               "sys.exit(rc)")


@pytest.mark.parametrize("argv", [[], ["tui", "--empty"]])  # plain `cnmlab`; what the benchmark and serve run
def test_the_app_starts_without_a_parser_or_ssl(argv):
    result = subprocess.run([sys.executable, "-c", APP_WRAPPER, *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["LOADED", "CnmlabApp", "False", "False", "None"]
