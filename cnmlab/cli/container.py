"""`cnmlab run|create|start|stop|restart|kill|wait|logs|port|ps|rm|inspect|exec`: containers with
Docker's flags and habits.

`run [IMAGE [CMD...]]` parses as `docker run` does: options first, then the image, then the
command. A Docker flag cnmlab does not take gets one line naming the `docker` command that
does the same against the lab (Docker's own CLI talks to the engine's socket).
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import paths
from ..client import Client
from ..errors import InvalidParameter, NotFound
from .parser import Parser
from .render import each, print_json, table

# Docker flags cnmlab's own CLI does not take (True: the flag takes a value).
DOCKER_ONLY = {"--dns": True, "--dns-search": True, "--dns-option": True, "--add-host": True, "--link": True,
               "--mac-address": True, "-v": True, "--volume": True, "--mount": True,
               "-u": True, "--user": True, "--cpus": True, "-m": True,
               "--memory": True, "--privileged": False, "--cap-add": True, "--cap-drop": True,
               "--expose": True, "--pull": True, "--platform": True, "--init": False, "--env-file": True,
               "--health-cmd": True, "--log-driver": True, "--sig-proxy": True, "--detach-keys": True,
               "--ip6": True, "--link-local-ip": True, "--network-alias-ip": True, "--pid": True, "--ipc": True,
               "--uts": True, "--userns": True, "--device": True, "--read-only": False, "--security-opt": True,
               "--ulimit": True, "--stop-signal": True, "--stop-timeout": True, "--label-file": True,
               "--cidfile": True, "--tmpfs": True, "--gpus": True, "--runtime": True, "--isolation": True,
               "-a": True, "--attach": True}


class _Parser(Parser):
    """A subcommand parser whose errors are one line, naming Docker's own command for Docker's flags."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        flag = next((w for w in message.replace(",", " ").split() if w.split("=")[0] in DOCKER_ONLY), None)
        if flag:
            docker_hint(self.prog.split()[-1], flag.split("=")[0])
        print(f"Error: {self.prog}: {message}", file=sys.stderr)
        sys.exit(2)


def unknown_flags(args, extra: list[str]) -> int:
    command = getattr(args, "command", None) or ""
    flag = next((w.split("=")[0] for w in extra if w.startswith("-")), extra[0])
    if flag in DOCKER_ONLY:
        docker_hint(command, flag)
    print(f"Error: unknown flag or argument for `cnmlab {command}`: {flag} (see `cnmlab {command} --help`)".replace(
        "cnmlab  ", "cnmlab "), file=sys.stderr)
    return 2


def docker_hint(command: str, flag: str):
    print(f"Error: `cnmlab {command}` has no {flag}; Docker's own CLI drives the lab: "
          f"docker -H unix://{paths.socket_path()} {command} {flag} ...", file=sys.stderr)
    sys.exit(2)


def register(sub) -> None:
    default_class, sub._parser_class = sub._parser_class, _Parser  # noqa: SLF001 - one-line errors here
    try:
        _register(sub)
    finally:
        sub._parser_class = default_class  # noqa: SLF001


def _register(sub) -> None:
    for verb, help_text in (("run", "create and start a container (a sandbox with its networks and main process)"),
                            ("create", "create a container; `start` builds it")):
        r = sub.add_parser(verb, help=help_text, add_help=False)
        r.add_argument("--name")
        r.add_argument("--network", "--net", dest="network", action="append",
                       help="network to join (repeat: it joins every one, as Docker 25+; default: bridge)")
        r.add_argument("--ip", help="IPv4 address on the first network (user-defined subnets only)")
        r.add_argument("--alias", "--network-alias", dest="alias", action="append")
        r.add_argument("-p", "--publish", action="append", metavar="[IP:]HOSTPORT:PORT[/PROTO]",
                       help="publish a port; `-p PORT` takes an ephemeral host port")
        r.add_argument("-P", "--publish-all", action="store_true", help="publish the image's ports on ephemeral ports")
        r.add_argument("--host", help="simulated Docker host (default host1)")
        r.add_argument("-l", "--label", action="append", metavar="KEY=VALUE")
        r.add_argument("-e", "--env", action="append", metavar="KEY=VALUE")
        r.add_argument("--entrypoint")
        r.add_argument("-h", "--hostname")
        r.add_argument("-w", "--workdir", help="the main process's working directory (one that exists: the lab "
                       "shares the machine's files)")
        r.add_argument("-i", "--interactive", action="store_true")
        r.add_argument("-t", "--tty", action="store_true")
        r.add_argument("--rm", action="store_true", help="remove the container when it exits")
        r.add_argument("--restart", metavar="POLICY", help="no, always, unless-stopped or on-failure[:N]: start it "
                       "again when its main process exits")
        r.add_argument("-d", "--detach", action="store_true", help="accepted: cnmlab runs containers detached")
        r.add_argument("--help", action="help")
        r.add_argument("image", nargs="?", help="recorded, never pulled (alpine/busybox run sh; others serve HTTP)")
        r.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD")
        r.set_defaults(func=run if verb == "run" else create)

    for verb, help_text in (("start", "start containers"), ("stop", "stop containers (SIGTERM, then SIGKILL)"),
                            ("restart", "restart containers"), ("kill", "send a signal to containers"),
                            ("wait", "wait for containers to stop; print their exit codes")):
        v = sub.add_parser(verb, help=help_text)
        v.add_argument("names", nargs="+")
        if verb in ("stop", "restart"):
            v.add_argument("-t", "--time", type=float, help="seconds to wait before SIGKILL (default 10)")
        if verb == "kill":
            v.add_argument("-s", "--signal", default="KILL")
        v.set_defaults(func=life_cycle, verb=verb)

    lg = sub.add_parser("logs", help="show a container's output (its main process's stdout and stderr)")
    lg.add_argument("name")
    lg.add_argument("-f", "--follow", action="store_true")
    lg.add_argument("-n", "--tail", default="all")
    lg.add_argument("-t", "--timestamps", action="store_true")
    lg.set_defaults(func=logs)

    pt = sub.add_parser("port", help="list a container's published ports")
    pt.add_argument("name")
    pt.add_argument("port", nargs="?", metavar="PORT[/PROTO]")
    pt.set_defaults(func=port)

    ps = sub.add_parser("ps", help="list running containers (-a: all)")
    ps.add_argument("--json", action="store_true")
    ps.add_argument("-q", "--quiet", action="store_true")
    ps.add_argument("-a", "--all", action="store_true")
    ps.set_defaults(func=ps_)

    rm = sub.add_parser("rm", help="remove containers (-f: also running ones)")
    rm.add_argument("names", nargs="+")
    rm.add_argument("-f", "--force", action="store_true")
    rm.set_defaults(func=remove)

    i = sub.add_parser("inspect", help="show containers (or networks) as `docker inspect` does")
    i.add_argument("names", nargs="+")
    i.set_defaults(func=inspect)

    e = sub.add_parser("exec", help="run a command in a container's sandbox (or a host's, or any lab namespace)")
    e.add_argument("-i", "--interactive", action="store_true", help="accepted: the command has your terminal")
    e.add_argument("-t", "--tty", action="store_true", help="accepted: the command has your terminal")
    e.add_argument("-e", "--env", action="append", metavar="KEY=VALUE")
    e.add_argument("container")
    e.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD")
    e.set_defaults(func=exec_)


def _config(args) -> dict:
    from .render import key_values

    image, cmd = args.image, list(args.cmd or [])
    if image and image.startswith("-") or (not image and cmd and cmd[0].startswith("-")):
        flag = (image if image and image.startswith("-") else cmd[0]).split("=")[0]
        if flag in DOCKER_ONLY:
            docker_hint(args.command, flag)
        raise InvalidParameter(f"unknown flag: {flag} (see `cnmlab {args.command} --help`)")
    ports = list(args.publish or [])
    if args.publish_all:
        from ..image import exposed_ports

        ports += [p for p in exposed_ports(image or "") if p.split("/")[0] not in
                  {spec.split("/")[0].rsplit(":", 1)[-1] for spec in ports}]
    if args.rm and args.restart and args.restart != "no":
        raise InvalidParameter("Conflicting options: --restart and --rm")
    from ..api.types import ContainerCreate

    return dict(network=ContainerCreate.of(
        network=args.network, ip=args.ip, aliases=args.alias, ports=ports, host=args.host,
        labels=key_values(args.label, "label"), image=image, cmd=cmd or None, env=list(args.env or []),
        entrypoint=[args.entrypoint] if args.entrypoint else None, hostname=args.hostname, tty=args.tty,
        stdin=args.interactive, auto_remove=args.rm, restart=args.restart, working_dir=args.workdir or ""))


def create(args) -> int:
    print(Client().create(args.name, **_config(args))["Id"])
    return 0


def run(args) -> int:
    config = _config(args)
    if args.interactive or args.tty:
        hint = f"docker -H unix://{paths.socket_path()} run -it"
        raise InvalidParameter(f"`cnmlab run` starts containers detached; for a terminal on the main process: {hint} ...")
    print(Client().run(args.name, **config)["Id"])
    return 0


def life_cycle(args) -> int:
    client = Client()
    acts = {"wait": client.wait, "kill": lambda name: client.kill(name, args.signal), "start": client.start,
            "stop": lambda name: client.stop(name, args.time), "restart": lambda name: client.restart(name, args.time)}
    return each(args.names, acts[args.verb])  # wait prints the exit code, the others the name


def logs(args) -> int:
    out = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}
    for stream, data in Client().logs(args.name, follow=args.follow, tail=str(args.tail),
                                      timestamps=args.timestamps):
        out[stream].write(data)
        out[stream].flush()
    return 0


def port(args) -> int:
    found = Client().inspect(args.name)
    ports = found["NetworkSettings"]["Ports"] or {}
    if args.port:
        key = args.port if "/" in args.port else f"{args.port}/tcp"
        if key not in ports:
            raise NotFound(f"No public port '{key}' published for {args.name}")
        for b in ports[key]:
            print(f"{b['HostIp']}:{b['HostPort']}")
        return 0
    for key, bindings in ports.items():
        for b in bindings:
            print(f"{key} -> {b['HostIp']}:{b['HostPort']}")
    return 0


def ps_(args) -> int:
    rows = [c for c in Client().containers() if args.all or c["State"] in ("running", "restarting")]
    if args.json:
        print_json(rows)
    elif args.quiet:
        for c in rows:
            print(c["Id"][:12])
    else:
        table(["CONTAINER ID", "NAME", "IMAGE", "STATUS", "HOST", "NETWORKS", "PORTS"], [
            [c["Id"][:12], c["Names"][0][1:], c.get("Image") or "-", c["Status"], c["Host"],
             ", ".join(f"{n} {v['IPAddress']}".strip() for n, v in c["NetworkSettings"]["Networks"].items())
             or c["HostConfig"]["NetworkMode"],
             ", ".join(f"{p['IP']}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}" for p in c["Ports"])]
            for c in rows])
    return 0


def remove(args) -> int:
    client = Client()
    return each(args.names, lambda name: client.rm(name, force=args.force))


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
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        raise InvalidParameter("exec needs a command: cnmlab exec CONTAINER CMD [ARG...]")
    if args.env:
        cmd = ["env", *args.env, *cmd]
    client = Client()
    client.namespace_of(args.container)  # a clear "No such container, host or lab namespace" first
    unusable = cannot_execute(cmd[0])
    if unusable:
        print(f'Error: exec: "{cmd[0]}": {unusable[1]}', file=sys.stderr)
        return unusable[0]
    import subprocess  # only `exec` runs a process: `ps` and `inspect` start faster without it

    return subprocess.call(client.enter_argv(args.container, cmd, userland=True))


def cannot_execute(program: str) -> tuple[int, str] | None:
    """Docker's answer when the command cannot start: 127 not found, 126 found but not executable.
    The lab world shares the machine's files (only /run is its own, where busybox's applets are
    linked), so the lookup is the same here, on a container's PATH."""
    from .. import image

    if "/" not in program and program in image.APPLETS and os.path.exists(image.BUSYBOX):
        return None
    if "/" in program:
        candidates = [program]
    else:
        candidates = [os.path.join(d or ".", program) for d in image.DOCKER_PATH.split(os.pathsep)]
    found = [c for c in candidates if os.path.exists(c)]
    if not found:
        return 127, ("no such file or directory" if "/" in program else "executable file not found in $PATH")
    if not any(os.path.isfile(c) and os.access(c, os.X_OK) for c in found):
        return 126, "permission denied"
    return None
