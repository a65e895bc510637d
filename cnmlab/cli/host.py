"""`cnmlab host ls|add|rm`: the simulated Docker hosts (and plain machines) on the underlay LAN."""

from ..client import Client
from .render import print_json, table


def register(sub) -> None:
    p = sub.add_parser("host", help="manage simulated hosts on the lab's underlay LAN")
    s = p.add_subparsers(dest="host_command", metavar="COMMAND", required=True)
    ls = s.add_parser("ls", help="list hosts")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_hosts)
    a = s.add_parser("add", help="add a Docker host (or, with --plain, an existing machine)")
    a.add_argument("name")
    a.add_argument("--address", help="address on the underlay (default: the next free one)")
    a.add_argument("--plain", action="store_true", help="a plain machine (router, legacy server), not a Docker host")
    a.set_defaults(func=add)
    r = s.add_parser("rm", help="remove a host (refused while it has containers)")
    r.add_argument("name")
    r.set_defaults(func=remove)


def list_hosts(args) -> int:
    hosts = Client().hosts()
    if args.json:
        print_json(hosts)
    else:
        table(["HOST", "ADDRESS", "KIND", "CONTAINERS", "NETWORKS"], [
            [h["Name"], h["Address"], "plain" if h["Plain"] else "docker", ", ".join(h["Containers"]),
             ", ".join(h["Networks"])] for h in hosts])
    return 0


def add(args) -> int:
    host = Client().host_add(args.name, address=args.address, plain=args.plain)
    print(f"{host['Name']} {host['Address']}")
    return 0


def remove(args) -> int:
    Client().host_rm(args.name)
    print(args.name)
    return 0
