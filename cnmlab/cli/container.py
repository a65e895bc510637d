"""`cnmlab run|ps|rm|inspect|exec`: containers (sandboxes) with Docker's flags."""

import os
import subprocess
import sys

from ..client import Client
from ..errors import CnmError, NotFound
from .render import print_json, table


def register(sub) -> None:
    r = sub.add_parser("run", help="create a container (a sandbox) and join it to a network")
    r.add_argument("--name", required=True)
    r.add_argument("--network", "--net", dest="network", help="network to join (default: bridge)")
    r.add_argument("--ip", help="IPv4 address on that network (user-defined subnets only)")
    r.add_argument("--alias", "--network-alias", dest="alias", action="append")
    r.add_argument("-p", "--publish", action="append", metavar="HOSTPORT:PORT[/PROTO]")
    r.add_argument("--host", help="simulated Docker host (default host1)")
    r.add_argument("--label", action="append", metavar="KEY=VALUE")
    r.add_argument("-d", "--detach", action="store_true", help="accepted for Docker compatibility")
    r.set_defaults(func=run)

    ps = sub.add_parser("ps", help="list containers")
    ps.add_argument("--json", action="store_true")
    ps.add_argument("-q", "--quiet", action="store_true")
    ps.add_argument("-a", "--all", action="store_true", help="accepted for Docker compatibility")
    ps.set_defaults(func=ps_)

    rm = sub.add_parser("rm", help="remove containers")
    rm.add_argument("names", nargs="+")
    rm.add_argument("-f", "--force", action="store_true")
    rm.set_defaults(func=remove)

    i = sub.add_parser("inspect", help="show containers (or networks) as `docker inspect` does")
    i.add_argument("names", nargs="+")
    i.set_defaults(func=inspect)

    e = sub.add_parser("exec", help="run a command inside a container's sandbox (or a host's, or any lab namespace)")
    e.add_argument("container")
    e.add_argument("cmd", nargs="+", metavar="-- CMD")
    e.set_defaults(func=exec_)


def run(args) -> int:
    from .render import key_values

    result = Client().run(args.name, network=args.network, ip=args.ip, aliases=args.alias,
                          ports=args.publish, host=args.host, labels=key_values(args.label, "label"))
    print(result["Id"])
    return 0


def ps_(args) -> int:
    rows = Client().containers()
    if args.json:
        print_json(rows)
    elif args.quiet:
        for c in rows:
            print(c["Id"][:12])
    else:
        table(["CONTAINER ID", "NAME", "HOST", "NETWORKS", "PORTS"], [
            [c["Id"][:12], c["Names"][0][1:], c["Host"],
             ", ".join(f"{n} {v['IPAddress']}".strip() for n, v in c["NetworkSettings"]["Networks"].items())
             or c["HostConfig"]["NetworkMode"],
             ", ".join(f"0.0.0.0:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}" for p in c["Ports"])]
            for c in rows])
    return 0


def remove(args) -> int:
    client, status = Client(), 0
    for name in args.names:
        try:
            client.rm(name, force=args.force)
            print(name)
        except CnmError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            status = 1
    return status


def inspect(args) -> int:
    client, out, status = Client(), [], 0
    for name in args.names:
        try:
            out.append(client.inspect(name))
        except NotFound:
            try:
                out.append(client.network_inspect(name))
            except NotFound:
                print(f"Error: No such object: {name}", file=sys.stderr)
                status = 1
    print_json(out)
    return status


def exec_(args) -> int:
    import subprocess

    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    client = Client()
    client.namespace_of(args.container)  # a clear "No such container, host or lab namespace" first
    unusable = cannot_execute(cmd[0])
    if unusable:
        print(f'Error: exec: "{cmd[0]}": {unusable[1]}', file=sys.stderr)
        return unusable[0]
    return subprocess.call(client.enter_argv(args.container, cmd))


def cannot_execute(program: str) -> tuple[int, str] | None:
    """Docker's answer when the command cannot start: 127 not found, 126 found but not executable.
    The lab world shares the machine's files (only /run is its own), so the lookup is the same here."""
    if "/" in program:
        candidates = [program]
    else:
        candidates = [os.path.join(d or ".", program) for d in os.environ.get("PATH", os.defpath).split(os.pathsep)]
    found = [c for c in candidates if os.path.exists(c)]
    if not found:
        return 127, ("no such file or directory" if "/" in program else "executable file not found in $PATH")
    if not any(os.path.isfile(c) and os.access(c, os.X_OK) for c in found):
        return 126, "permission denied"
    return None
