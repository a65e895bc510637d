"""`cnmlab reset|shell|demo`, and what plain `cnmlab` does."""

import os
import subprocess

from ..client import Client
from .render import console

STARTER = "The chapter's first example: Container A on Network A; Container B on Networks A and B."


def register(sub) -> None:
    r = sub.add_parser("reset", help="wipe the lab back to one empty host")
    r.add_argument("--force", action="store_true",
                   help="also when the store is damaged: move it aside (kept, renamed) and start an empty lab")
    r.set_defaults(func=reset)
    sh = sub.add_parser("shell", help="open a shell inside the lab world (in a container, host or any lab namespace)")
    sh.add_argument("target", nargs="?", help="container or host (default: the world's own namespace)")
    sh.set_defaults(func=shell)
    d = sub.add_parser("demo", help="build the chapter's starter topology and show it")
    d.set_defaults(func=demo)
    t = sub.add_parser("tui", help="open the terminal app (what plain `cnmlab` does)")
    t.add_argument("--empty", action="store_true", help="do not build the starter topology on an empty lab")
    t.set_defaults(func=default_main)


def reset(args) -> int:
    client = Client()
    if getattr(args, "force", False) and not client.running():
        from .. import paths, storecheck

        store = str(paths.database_path())
        try:
            storecheck.check(store)
        except storecheck.StoreDamaged as exc:
            moved = storecheck.move_aside(store)
            print(f"the lab's store was damaged ({exc.why}): moved it aside to {', '.join(moved)}")
    client.reset()
    print("lab reset: one host (host1), its default networks, no containers")
    return 0


def shell(args) -> int:
    client = Client()
    shell_cmd = [os.environ.get("SHELL") or "/bin/bash"]
    if not os.path.exists(shell_cmd[0]):
        shell_cmd = ["/bin/sh"]
    return subprocess.call(client.enter_argv(args.target, shell_cmd, userland=True))


def build_starter(client: Client) -> bool:
    """Build the starter topology on an empty lab; return False when the lab was not empty."""
    if client.containers() or any(not n["Name"] in ("bridge", "host", "none") for n in client.networks()):
        return False
    client.network_create("net-a")
    client.network_create("net-b")
    client.run("container-a", network="net-a")
    client.run("container-b", network="net-a")
    client.connect("net-b", "container-b")
    return True


def demo(args) -> int:
    client = Client()
    built = build_starter(client)
    console.print(STARTER if built else "The lab already has objects; showing it as it is.")
    for c in client.containers():
        nets = ", ".join(f"{n} ({v['Interface']} {v['IPAddress']})" for n, v in c["NetworkSettings"]["Networks"].items())
        console.print(f"  sandbox [bold]{c['Names'][0][1:]}[/bold] on {c['Host']}: {nets}")
    console.print("Try: cnmlab exec container-a -- ping -c1 container-b's net-a address; cnmlab network inspect net-a")
    return 0


def default_main(args) -> int:
    """Plain `cnmlab`: the terminal app, which builds the starter topology (via `build_starter`) on an
    empty lab unless --empty is given, showing what it does while the engine starts."""
    from ..tui import run

    return run(starter=not getattr(args, "empty", False))
