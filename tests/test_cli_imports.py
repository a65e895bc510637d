"""A plain CLI command imports only what it needs (cnmlab/cli/__init__.py: COMMANDS).

Speed itself belongs in benchmarks; this checks the cause: a command that asks the engine one
question and prints the answer must not load asyncio (AsyncClient), textual, scapy, yaml
(guided labs), rich.markdown or the kernel libraries; nor msgspec and the API's types (it sends
no body) or subprocess (it runs no process).
"""

import json
import subprocess
import sys

import pytest

from cnmlab import cli

HEAVY = ("asyncio", "textual", "scapy", "yaml", "pyroute2", "rich.markdown", "cnmlab.labs", "cnmlab.tui",
         "http.client", "msgspec", "cnmlab.api.types", "subprocess")  # no body sent, no process run
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
