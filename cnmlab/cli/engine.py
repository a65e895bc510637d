"""`cnmlab engine run|status|stop`."""

from ..client import Client
from .render import print_json, table


def register(sub) -> None:
    p = sub.add_parser("engine", help="run, inspect or stop the engine that owns the lab")
    s = p.add_subparsers(dest="engine_command", metavar="COMMAND", required=True)
    s.add_parser("run", help="run the engine in the foreground").set_defaults(func=run)
    st = s.add_parser("status", help="show the running engine (never starts one; exit code 1 when none runs)")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=status)
    s.add_parser("stop", help="stop the engine; the lab world goes with it, the store stays").set_defaults(func=stop)


def run(args) -> int:
    from ..engine.server import Engine

    return Engine().run()


def status(args) -> int:
    client = Client(autostart=False)
    if not client.running():  # a query starts nothing
        if args.json:
            print_json({"running": False, "socket": client.socket_path})
        else:
            print(f"engine not running (no engine answers on {client.socket_path}); any other command starts it")
        return 1
    data = client.status()
    if args.json:
        print_json(data)
    else:
        table(["PID", "SOCKET", "VERSION", "ROOTLESS", "STORE"],
              [[data["pid"], data["socket"], data["version"], data["rootless"], data["store"]]])
    return 0


def stop(args) -> int:
    pid = Client(autostart=False).stop_engine()
    print(f"stopped engine {pid}" if pid else "no engine was running")
    return 0
