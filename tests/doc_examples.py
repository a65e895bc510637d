"""The examples in README.md and docs/*.md, read as transcripts and run as written.

The convention (every example author follows it):
- A ```console block is run. A line starting with `$ ` is a command (a line ending in `\\`
  continues on the next line); the lines after it, up to the next `$ ` line, are the output it
  must print (stdout and stderr together). A line `...` matches any number of lines. Only
  whitespace is normalised: runs of blanks count as one, blank lines and line ends are ignored.
  A command that exits non-zero must show some of its output (a line other than `...`): a
  failure nobody wrote down is a broken example.
- A ```console block starts with `$ cnmlab reset` (self-contained), or the line before it is
  `<!-- continues the previous example -->`: it goes on from the lab the previous runnable block
  left. Blocks run in page order, on the one engine of the test session.
- A ```python block runs in a fresh interpreter (on the lab as the page left it; it passes when
  it raises nothing), or, after the comment above, in the previous python block's interpreter.
- ```text (or json, yaml, toml, ...) blocks are illustrative and not run. Shell-looking fences
  that are neither (```bash, ```sh, ```shell, or no language) are refused, so every shell
  snippet says whether it runs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTINUES = "<!-- continues the previous example -->"
RUN = ("console", "python")
AMBIGUOUS = ("", "bash", "sh", "shell", "zsh")
WILDCARD = "..."


@dataclass
class Command:
    line: int  # 1-based line of the `$ ` in its file
    text: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    body: str
    continues: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def commands(self) -> list[Command]:
        out: list[Command] = []
        pending = ""
        for offset, raw in enumerate(self.body.splitlines(), start=self.line + 1):
            if pending:
                pending += "\n" + raw
                if not raw.rstrip().endswith("\\"):
                    out[-1].text, pending = pending, ""
            elif raw.startswith("$ "):
                out.append(Command(offset, raw[2:]))
                if raw.rstrip().endswith("\\"):
                    pending = raw[2:]
            elif out:
                out[-1].expected.append(raw)
            elif raw.strip():
                raise AssertionError(f"{self.where}: output before the first `$ ` command: {raw!r}")
        return out


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file, with its language and whether it continues."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)(`{3,})\s*([\w+-]*)", lines[i])
        if not fence:
            i += 1
            continue
        indent, ticks, lang = fence.groups()
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(ticks):
            end += 1
        body = "\n".join(line[len(indent):] if line.startswith(indent) else line for line in lines[i + 1:end])
        found.append(Block(path, i + 1, lang.lower(), body, before == CONTINUES))
        i = end + 1
    return found


def normalise(lines: list[str]) -> list[str]:
    return [" ".join(line.split()) for line in lines if line.strip()]


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whole-output match, `...` standing for any run of lines (also none)."""
    expected, actual = normalise(expected), normalise(actual)
    # can[i][j]: expected[i:] matches actual[j:]
    can = [[False] * (len(actual) + 1) for _ in range(len(expected) + 1)]
    can[len(expected)][len(actual)] = True
    for i in range(len(expected) - 1, -1, -1):
        for j in range(len(actual), -1, -1):
            if expected[i] == WILDCARD:
                can[i][j] = can[i + 1][j] or (j < len(actual) and can[i][j + 1])
            else:
                can[i][j] = j < len(actual) and expected[i] == actual[j] and can[i + 1][j + 1]
    return can[0][0]


def shell_env() -> dict[str, str]:
    """The test session's engine (its CNMLAB_* directories) and this venv's `cnmlab` first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("COLUMNS", None)
    return env


def run_console(block: Block) -> None:
    commands = block.commands()
    assert commands, f"{block.where}: a console block with no `$ ` command"
    if not block.continues:
        assert shlex.split(commands[0].text, comments=True) == ["cnmlab", "reset"], (
            f"{block.where}: a runnable block starts with `$ cnmlab reset` or follows `{CONTINUES}`")
    env = shell_env()
    for cmd in commands:
        done = subprocess.run(["bash", "-c", cmd.text], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=180)
        actual = done.stdout.splitlines()
        where = f"{block.path.relative_to(ROOT)}:{cmd.line}: $ {cmd.text}"
        if not matches(cmd.expected, actual):
            raise AssertionError(f"{where}\n--- the example shows:\n" + "\n".join(cmd.expected) +
                                 "\n--- the command printed:\n" + done.stdout)
        shown = [line for line in normalise(cmd.expected) if line != WILDCARD]
        if done.returncode != 0 and not shown:
            raise AssertionError(f"{where}\nexited {done.returncode} but the example shows no output:\n{done.stdout}")


# The interpreter a python block runs in: it reads one JSON request per line ({"code", "name"}),
# runs the code in one namespace kept across requests, and answers on fd 3: "ok" or the traceback.
INTERPRETER = r"""
import json, os, sys, traceback
answers = os.fdopen(int(sys.argv[1]), "w")
namespace = {"__name__": "__main__"}
for request in sys.stdin:
    request = json.loads(request)
    try:
        exec(compile(request["code"], request["name"], "exec"), namespace)
        answer = "ok"
    except BaseException:
        answer = traceback.format_exc()
    sys.stdout.flush(); sys.stderr.flush()
    answers.write(json.dumps(answer) + "\n"); answers.flush()
"""


class Interpreter:
    """One Python process that python blocks run in, one after another, sharing their variables."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self.process = subprocess.Popen([sys.executable, "-c", INTERPRETER, str(write)], cwd=ROOT, env=shell_env(),
                                        stdin=subprocess.PIPE, pass_fds=(write,), text=True)
        os.close(write)
        self.answers = os.fdopen(read)

    def run(self, block: Block) -> None:
        self.process.stdin.write(json.dumps({"code": block.body, "name": block.where}) + "\n")
        self.process.stdin.flush()
        answer = self.answers.readline()
        assert answer, f"{block.where}: the interpreter died (exit {self.process.wait(10)})"
        result = json.loads(answer)
        if result != "ok":
            raise AssertionError(f"{block.where}: the python example failed:\n{result}")

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.answers.close()


class Runner:
    """Runs a file's blocks in order, keeping the python interpreter a continued block asks for."""

    def __init__(self) -> None:
        self.interpreter: Interpreter | None = None
        self.last_lang: str | None = None

    def run(self, block: Block) -> None:
        if block.lang == "console":
            run_console(block)
        else:
            if not (block.continues and self.last_lang == "python" and self.interpreter):
                self.close()
                self.interpreter = Interpreter()
            self.interpreter.run(block)
        self.last_lang = block.lang

    def close(self) -> None:
        if self.interpreter:
            self.interpreter.close()
            self.interpreter = None
