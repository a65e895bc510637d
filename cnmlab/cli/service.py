"""`cnmlab service create|ls|ps|inspect|scale|rm`: swarm-style services on one network."""

import sys

from ..client import Client
from ..errors import CnmError, InvalidParameter
from .render import each, print_json, table


def register(sub) -> None:
    p = sub.add_parser("service", help="manage services (replicas behind a VIP)")
    s = p.add_subparsers(dest="service_command", metavar="COMMAND", required=True)

    c = s.add_parser("create", help="create a service: N replicas NAME.1..NAME.N and a virtual IP")
    c.add_argument("--name", required=True)
    c.add_argument("--network", "--net", dest="network", required=True, help="a user-defined network")
    c.add_argument("--replicas", type=int, default=1)
    c.add_argument("-p", "--publish", action="append", metavar="HOSTPORT:PORT[/PROTO]",
                   help="publish on every host of the network (the routing mesh)")
    c.add_argument("--endpoint-mode", choices=("vip", "dnsrr"), default="vip")
    c.add_argument("--host", help="run the replicas on this host (default: the network's host)")
    c.set_defaults(func=create)

    ls = s.add_parser("ls", help="list services")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.set_defaults(func=list_services)

    ps = s.add_parser("ps", help="list the tasks (replicas) of services")
    ps.add_argument("names", nargs="+")
    ps.add_argument("--json", action="store_true")
    ps.set_defaults(func=tasks)

    i = s.add_parser("inspect", help="show services as JSON")
    i.add_argument("names", nargs="+")
    i.set_defaults(func=inspect)

    sc = s.add_parser("scale", help="set the number of replicas: NAME=REPLICAS ...")
    sc.add_argument("pairs", nargs="+", metavar="NAME=REPLICAS")
    sc.set_defaults(func=scale)

    rm = s.add_parser("rm", help="remove services and their replicas")
    rm.add_argument("names", nargs="+")
    rm.set_defaults(func=remove)


def create(args) -> int:
    svc = Client().service_create(args.name, args.network, replicas=args.replicas, ports=args.publish,
                                  endpoint_mode=args.endpoint_mode, host=args.host)
    print(svc["ID"])
    return 0


def _ports(svc: dict) -> str:
    return ", ".join(f"*:{p['PublishedPort']}->{p['TargetPort']}/{p['Protocol']}" for p in svc["Endpoint"]["Ports"])


def _vip(svc: dict) -> str:
    return ", ".join(v["Addr"] for v in svc["Endpoint"]["VirtualIPs"]) or "-"


def list_services(args) -> int:
    rows = Client().services()
    if args.json:
        print_json(rows)
    elif args.quiet:
        for svc in rows:
            print(svc["ID"][:12])
    else:
        table(["ID", "NAME", "MODE", "REPLICAS", "NETWORK", "VIP", "PORTS"], [
            [svc["ID"][:12], svc["Spec"]["Name"], svc["Spec"]["EndpointSpec"]["Mode"],
             f"{svc['ServiceStatus']['RunningTasks']}/{svc['ServiceStatus']['DesiredTasks']}",
             svc["Network"], _vip(svc), _ports(svc)] for svc in rows])
    return 0


def tasks(args) -> int:
    client = Client()
    rows = []
    for name in args.names:
        svc = client.service_inspect(name)
        for t in svc["Tasks"]:
            rows.append({"Service": svc["Spec"]["Name"], **t})
    if args.json:
        print_json(rows)
    else:
        table(["NAME", "CONTAINER ID", "HOST", "ADDRESS", "STATE"],
              [[t["Name"], t["ContainerID"][:12], t["Host"] or "", t["Address"] or "", t["State"]] for t in rows])
    return 0


def inspect(args) -> int:
    client, out, status = Client(), [], 0
    for name in args.names:
        try:
            out.append(client.service_inspect(name))
        except CnmError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            status = 1
    print_json(out)
    return status


def scale(args) -> int:
    client = Client()
    wanted = []
    for pair in args.pairs:  # check them all before changing anything
        name, sep, count = pair.partition("=")
        if not sep or not name or not count.isdigit():
            raise InvalidParameter(f"invalid scale specifier '{pair}': use NAME=REPLICAS")
        wanted.append((name, int(count)))
    for name, count in wanted:
        client.service_scale(name, count)
        print(f"{name} scaled to {count}")
    return 0


def remove(args) -> int:
    return each(args.names, Client().service_rm)
