"""`cnmlab serve`: the terminal app in a browser (textual-serve), for a projector or a Chromebook.

Every browser session gets its own app process (`cnmlab tui`), and all of them are clients of the
same engine: the user's lab. The app can open shells in the lab world, so serving it beyond this
machine is an explicit choice (`--public`).
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import socket
import sys

from ..errors import CnmError

PUBLIC_WARNING = ("Warning: serving on {host}:{port} to the network: anyone who reaches this port gets "
                  "the lab, and the lab can run shells as {user}.")


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the terminal app to a web browser (one app per browser tab)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument("--public", action="store_true", help="allow an address other machines can reach")
    p.add_argument("--empty", action="store_true", help="do not build the starter topology on an empty lab")
    p.set_defaults(func=serve)


def is_loopback(host: str) -> bool:
    """Whether every address `host` stands for is a loopback one (a name is resolved)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise CnmError(f"cannot listen on {host!r}: {exc.strerror}") from None
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def app_command(empty: bool) -> str:
    """The command textual-serve starts per browser session: this very cnmlab, on the same engine
    (the runtime directory comes with the environment)."""
    return shlex.join([sys.executable, "-m", "cnmlab", "tui", *(["--empty"] if empty else [])])


def serve(args) -> int:
    if not 0 < args.port < 65536:
        raise CnmError(f"invalid port {args.port}: must be 1-65535")
    if not is_loopback(args.host):
        if not args.public:
            raise CnmError(f"refusing to serve on {args.host}, which other machines can reach: "
                           "the lab can run shells; add --public to do it anyway")
        import getpass

        print(PUBLIC_WARNING.format(host=args.host, port=args.port, user=getpass.getuser()), file=sys.stderr)
    from ..client import Client

    Client().status()  # start the engine once here, not in a race between the first two tabs
    from ..tui.web import LabServer  # textual-serve (aiohttp) only for this command

    try:
        LabServer(app_command(args.empty), host=args.host, port=args.port).serve()
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise CnmError(f"cannot listen on {args.host}:{args.port}: {os.strerror(exc.errno) if exc.errno else exc}") from None
    return 0
