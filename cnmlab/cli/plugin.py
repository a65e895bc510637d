"""`cnmlab plugin ls|run|rm`: third-party drivers (entry points and Docker remote plugins)."""

from __future__ import annotations

import argparse

from ..client import Client
from .render import console, print_json, table


def register(sub) -> None:
    p = sub.add_parser("plugin", help="third-party drivers: Python entry points and Docker remote plugins")
    s = p.add_subparsers(dest="plugin_command", metavar="COMMAND", required=True)

    ls = s.add_parser("ls", help="list installed drivers and the remote plugins found in the lab world")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_plugins)

    run = s.add_parser("run", help="start a remote plugin process in a host's namespace, inside the lab world",
                       description="Start CMD in the background in a simulated Docker host's namespace "
                                   "(never the machine's), and wait until it announces a plugin socket "
                                   "in /run/docker/plugins or a spec in /etc/docker/plugins.")
    run.add_argument("--host", help="the Docker host whose namespace it runs in (default host1)")
    run.add_argument("--wait", type=float, default=10.0, help="seconds to wait for its socket (default 10)")
    run.add_argument("--json", action="store_true")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    run.set_defaults(func=run_plugin)

    rm = s.add_parser("rm", aliases=["stop"], help="stop a plugin process started with `plugin run`")
    rm.add_argument("refs", nargs="+", metavar="NAME|PID")
    rm.add_argument("-f", "--force", action="store_true", help="stop it even when networks use it")
    rm.set_defaults(func=remove)


def list_plugins(args) -> int:
    info = Client().plugins()
    if args.json:
        print_json(info)
        return 0
    rows = [[d["Name"], "python", "NetworkDriver", d["Entrypoint"], ""] for d in info["Drivers"]]
    for r in info["Remote"]:
        what = ", ".join(r["Implements"]) if r["Implements"] else f"! {r['Error']}"
        pid = f"{r['Pid']} on {r['Host']}" if r["Pid"] else ""
        rows.append([r["Name"], "remote", what, r["Address"], pid])
    table(["NAME", "KIND", "IMPLEMENTS", "ENTRYPOINT / ADDRESS", "PROCESS"], rows)
    return 0


def run_plugin(args) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    proc = Client().plugin_run(argv, host=args.host, wait=args.wait)
    if args.json:
        print_json(proc)
    elif proc["Name"]:
        console.print(f"plugin {proc['Name']} running (pid {proc['Pid']} on {proc['Host']}, log {proc['Log']})")
    else:
        console.print(f"started pid {proc['Pid']} on {proc['Host']}, but no plugin socket appeared within "
                      f"{args.wait:g} s (log {proc['Log']})")
    return 0


def remove(args) -> int:
    client = Client()
    for ref in args.refs:
        done = client.plugin_stop(ref, force=args.force)
        print(done["Name"] or done["Pid"])
    return 0
