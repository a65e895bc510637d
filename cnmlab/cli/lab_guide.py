"""`cnmlab lab ls|show|start|play|solve|check|reset`: the guided labs in the terminal.

`check --json` prints the grading record a teacher collects (see cnmlab.labs.runner)."""

from __future__ import annotations

from ..client import Client
from ..errors import KernelUnsupported
from .render import console, print_json, table

def _labs():
    """cnmlab.labs (YAML, the checks), imported only by the lab commands: every other command starts faster."""
    from .. import labs
    from ..labs import runner  # noqa: F401  (labs.runner)

    return labs


def _markdown(text: str):
    from rich.markdown import Markdown  # slow to import: only when a lab's text is shown

    return Markdown(text)


MARKS = {"passed": "[green]✓[/green]", "failed": "[red]✗[/red]", "skipped": "[yellow]–[/yellow]"}


def register(sub) -> None:
    p = sub.add_parser("lab", help="guided labs: start one, get checked, see the solution")
    s = p.add_subparsers(dest="lab_command", metavar="COMMAND", required=True)

    ls = s.add_parser("ls", help="list the labs")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_labs)

    sh = s.add_parser("show", help="print a lab's text (one step, or all)")
    sh.add_argument("lab", help="number, name or a lab file")
    sh.add_argument("--step", type=int)
    sh.set_defaults(func=show)

    st = s.add_parser("start", help="reset the lab world and set the lab up")
    st.add_argument("lab")
    st.add_argument("--trust", action="store_true", help="run a lab file from outside cnmlab's own labs")
    st.set_defaults(func=start)

    pl = s.add_parser("play", help="start the lab and open it in the terminal app's lab pane")
    pl.add_argument("lab")
    pl.add_argument("--trust", action="store_true", help="run a lab file from outside cnmlab's own labs")
    pl.set_defaults(func=play)

    so = s.add_parser("solve", help='apply the "show me" solution (every step, or one)')
    so.add_argument("lab")
    so.add_argument("--step", type=int)
    so.add_argument("--trust", action="store_true", help="run a lab file from outside cnmlab's own labs")
    so.set_defaults(func=solve)

    ch = s.add_parser("check", help="check the live lab: a grading record per step")
    ch.add_argument("lab")
    ch.add_argument("--step", type=int, action="append", help="only this step (repeatable)")
    ch.add_argument("--json", action="store_true")
    ch.add_argument("--trust", action="store_true", help="run a lab file from outside cnmlab's own labs")
    ch.set_defaults(func=check)

    hi = s.add_parser("hint", help="a troubleshooting lab's hints: the symptom, then the tool, then the cause")
    hi.add_argument("lab")
    hi.add_argument("--step", type=int, default=1)
    hi.add_argument("--level", type=int, default=1, help="how many hints to show (1: the first)")
    hi.set_defaults(func=hint)

    s.add_parser("reset", help="wipe the lab world back to one empty host").set_defaults(func=reset)


def list_labs(args) -> int:
    labs = _labs().load_all()
    if args.json:
        print_json([{"number": lab.number, "name": lab.name, "title": lab.title, "steps": len(lab.steps),
                     "requires": list(lab.requires), "challenge": lab.challenge} for lab in labs])
        return 0
    table(["LAB", "NAME", "TITLE", "STEPS", "NEEDS"],
          [[lab.number, lab.slug, ("troubleshoot: " if lab.challenge else "") + lab.title, len(lab.steps),
            ", ".join(lab.requires)] for lab in labs])
    return 0


def hint(args) -> int:
    lab = _labs().find(args.lab)
    step = lab.step(args.step)
    if not step.hints:
        console.print(f"lab {lab.number} step {step.number} has no hints: `cnmlab lab check {lab.number}` "
                      "gives one for each failed check")
        return 0
    level = max(1, min(args.level, len(step.hints)))
    for i, text in enumerate(step.hints[:level], 1):
        console.print(f"[cyan]hint {i}/{len(step.hints)}:[/cyan] {text}", highlight=False)
    if level < len(step.hints):
        console.print(f"[dim]more: cnmlab lab hint {lab.number} --step {step.number} --level {level + 1}[/dim]")
    return 0


def _print_step(lab, step) -> None:
    console.print(f"\n[bold]Step {step.number}/{len(lab.steps)}: {step.title}[/bold]")
    console.print(_markdown(step.text))


def show(args) -> int:
    lab = _labs().find(args.lab)
    if args.step:
        _print_step(lab, lab.step(args.step))
        return 0
    console.print(f"[bold]Lab {lab.number}: {lab.title}[/bold]")
    if lab.symptom:
        console.print(f"[bold red]Symptom:[/bold red] {lab.symptom}", highlight=False)
    console.print(_markdown(lab.intro))
    for step in lab.steps:
        _print_step(lab, step)
    return 0


def _find(args):
    """The lab; a file from elsewhere only once the user trusts it (its commands are shown first)."""
    import dataclasses
    import sys

    from rich.console import Console

    labs = _labs()
    lab = labs.find(args.lab)
    if lab.trusted:
        return lab
    err = Console(stderr=True)  # stdout stays the command's own output (check --json)
    err.print(f"[bold yellow]{lab.path} is not one of cnmlab's own labs.[/bold yellow] It will run, as root "
              "in the lab world:", highlight=False, soft_wrap=True)
    for line in labs.runner.commands(lab) or ["(no commands)"]:
        err.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    if args.trust or (sys.stdin.isatty() and input("Run this lab file? [y/N] ").strip().lower() in ("y", "yes")):
        return dataclasses.replace(lab, trusted=True)
    labs.runner.require_trust(lab)


def start(args) -> int:
    lab = _find(args)
    done = _labs().runner.start(Client(), lab)
    console.print(f"[bold]Lab {lab.number}: {lab.title}[/bold]")
    if lab.challenge:  # how it was broken is the puzzle: say only what the learner sees
        console.print(f"  [dim]the lab is set up, and something is wrong ({len(done)} changes)[/dim]")
        console.print(f"[bold red]Symptom:[/bold red] {lab.symptom}", highlight=False)
    else:
        for line in done:
            console.print(f"  [dim]{line}[/dim]")
    console.print(_markdown(lab.intro))
    _print_step(lab, lab.steps[0])
    if lab.challenge:
        console.print(f"\nStuck: [bold]cnmlab lab hint {lab.number}[/bold] (then --level 2, 3)")
    console.print(f"\nWhen done: [bold]cnmlab lab check {lab.number}[/bold]; stuck: "
                  f"[bold]cnmlab lab solve {lab.number} --step 1[/bold]; next: "
                  f"[bold]cnmlab lab show {lab.number} --step 2[/bold]")
    return 0


def play(args) -> int:
    from ..tui import run_app
    from ..tui.guided_lab import GuidedApp

    lab = _find(args)
    client = Client()
    _labs().runner.start(client, lab)
    run_app(GuidedApp(lab, client=client))
    return 0


def solve(args) -> int:
    lab = _find(args)
    client = Client()
    steps = [lab.step(args.step)] if args.step else lab.steps
    for step in steps:
        console.print(f"[bold]Step {step.number}: {step.title}[/bold]")
        try:
            lines = _labs().runner.solve(client, lab, step)
        except KernelUnsupported as exc:
            console.print(f"  [yellow]skipped[/yellow]: {exc.message}\n  {step.skipped_text}")
            continue
        for line in lines or ["(nothing to build: look and check)"]:
            console.print(f"  $ {line}", highlight=False)
    return 0


def check(args) -> int:
    lab = _find(args)
    record = _labs().runner.check(Client(), lab, args.step)
    if args.json:
        print_json(record)
        return 1 if record["failed"] else 0
    console.print(f"[bold]Lab {lab.number}: {lab.title}[/bold]")
    for step in record["steps"]:
        console.print(f"{MARKS[step['status']]} step {step['step']}: {step['title']}"
                      + (f"  [yellow]({step['reason']})[/yellow]" if step["reason"] else ""))
        for c in _labs().runner.distinct(step["checks"]):
            mark = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "[yellow]–[/yellow]"}[c["ok"]]
            console.print(f"    {mark} {c['message']}", highlight=False)
            if c["ok"] is False and c["hint"]:
                console.print(f"      [cyan]hint:[/cyan] {c['hint']}", highlight=False)
    console.print(f"{record['passed']}/{record['total']} steps passed, {record['failed']} failed, "
                  f"{record['skipped']} skipped")
    return 1 if record["failed"] else 0


def reset(args) -> int:
    Client().reset()
    print("lab reset: one host (host1), its default networks, no containers")
    return 0
