"""`cnmlab network create|ls|inspect|rm|connect|disconnect|prune`, as `docker network` has them."""

from ..client import Client
from ..errors import CnmError, InvalidParameter, NotFound
from .render import key_values, print_json, table


def register(sub) -> None:
    p = sub.add_parser("network", help="manage networks")
    s = p.add_subparsers(dest="network_command", metavar="COMMAND", required=True)

    c = s.add_parser("create", help="create a network")
    c.add_argument("name", nargs="?")  # optional only for `-d ?`, which lists the drivers
    c.add_argument("-d", "--driver", default="bridge", help="driver (bridge, overlay, macvlan, ...; '?' lists them)")
    c.add_argument("--subnet")
    c.add_argument("--gateway")
    c.add_argument("--ip-range")
    c.add_argument("--aux-address", action="append", metavar="NAME=IP")
    c.add_argument("--internal", action="store_true", help="no way out of the network")
    c.add_argument("--attachable", action="store_true")
    c.add_argument("--ipv6", action="store_true")
    c.add_argument("-o", "--opt", action="append", metavar="KEY=VALUE", help="driver option")
    c.add_argument("--label", action="append", metavar="KEY=VALUE")
    c.add_argument("--ipam-driver")
    c.add_argument("--host", help="the simulated Docker host of a local network (default host1)")
    c.set_defaults(func=create)

    ls = s.add_parser("ls", help="list networks")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.set_defaults(func=list_networks)

    i = s.add_parser("inspect", help="show a network as `docker network inspect` does")
    i.add_argument("names", nargs="+")
    i.add_argument("-v", "--verbose", action="store_true")
    i.add_argument("--host")
    i.set_defaults(func=inspect)

    r = s.add_parser("rm", help="remove networks")
    r.add_argument("names", nargs="+")
    r.set_defaults(func=remove)

    cn = s.add_parser("connect", help="connect a container to a network")
    cn.add_argument("network")
    cn.add_argument("container")
    cn.add_argument("--ip")
    cn.add_argument("--alias", action="append")
    cn.set_defaults(func=connect)

    dc = s.add_parser("disconnect", help="disconnect a container from a network")
    dc.add_argument("network")
    dc.add_argument("container")
    dc.add_argument("-f", "--force", action="store_true")
    dc.set_defaults(func=disconnect)

    pr = s.add_parser("prune", help="remove all unused user-defined networks")
    pr.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    pr.set_defaults(func=prune)


def create(args) -> int:
    client = Client()
    if args.driver == "?":
        for d in client.drivers():
            print(d["Name"])
        return 0
    if not args.name:
        raise InvalidParameter('"cnmlab network create" requires exactly 1 argument: the network\'s name')
    from ..api.types import NetworkCreate

    result = client.network_create(NetworkCreate.of(
        args.name, driver=args.driver, subnet=args.subnet, gateway=args.gateway, ip_range=args.ip_range,
        aux_addresses=key_values(args.aux_address, "aux-address"), internal=args.internal,
        attachable=args.attachable, options=key_values(args.opt, "option"),
        labels=key_values(args.label, "label"), ipv6=args.ipv6, host=args.host, ipam_driver=args.ipam_driver))
    print(result["Id"])
    return 0


def list_networks(args) -> int:
    nets = Client().networks()
    if args.json:
        print_json(nets)
    elif args.quiet:
        for n in nets:
            print(n["Id"][:12])
    else:
        rows = [[n["Id"][:12], n["Name"], n["Driver"], n["Scope"], n.get("Host") or "(all)",
                 ", ".join(c["Subnet"] for c in n["IPAM"]["Config"])] for n in nets]
        table(["NETWORK ID", "NAME", "DRIVER", "SCOPE", "HOST", "SUBNET"], rows)
    return 0


def inspect(args) -> int:
    client = Client()
    out, failed = [], 0
    for name in args.names:
        try:
            out.append(client.network_inspect(name, host=args.host, verbose=args.verbose))
        except NotFound:
            _error(f"No such network: {name}")
            failed = 1
    print_json(out)
    return failed


def remove(args) -> int:
    client = Client()
    status = 0
    for name in args.names:
        try:
            client.network_rm(name)
            print(name)
        except NotFound:
            _error(f"No such network: {name}")
            status = 1
        except CnmError as exc:
            _error(exc.message)
            status = 1
    return status


def connect(args) -> int:
    Client().connect(args.network, args.container, ip=args.ip, aliases=args.alias)
    return 0


def disconnect(args) -> int:
    Client().disconnect(args.network, args.container, force=args.force)
    return 0


PRUNE_WARNING = """WARNING! This will remove all custom networks not used by at least one container.
Are you sure you want to continue? [y/N] """


def prune(args) -> int:
    if not args.force and not confirmed(PRUNE_WARNING):
        return 0  # as docker 20.10: declining removes nothing and is not an error
    deleted = Client().network_prune()
    if deleted:
        print("Deleted Networks:")
        for name in deleted:
            print(name)
    return 0


def confirmed(question: str) -> bool:
    """Docker's prompt: only y or yes (any case) goes on; end of input is a no."""
    import sys

    sys.stdout.write(question)
    sys.stdout.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stdout.write("\n")
    return answer.strip().lower() in ("y", "yes")


def _error(message: str) -> None:
    import sys

    print(f"Error: {message}", file=sys.stderr)
