"""`cnmlab probe|ping|matrix|trace`: test packets, the reachability matrix, a hop-by-hop trace."""

from rich.table import Table

from ..client import Client
from .render import console, print_json, print_table

PROTOS = ("icmp", "tcp", "udp", "arp", "dns", "http")
MARK = {"reachable": "[green]✓[/green]", "refused": "[yellow]✗[/yellow]", "no route": "[red]✗[/red]",
        "timeout": "[red]✗[/red]", "filtered": "[red]✗[/red]"}
LETTER = {"reachable": "", "refused": "r", "no route": "n", "timeout": "t", "filtered": "f"}


def register(sub) -> None:
    p = sub.add_parser("probe", help="send one test packet from SRC to DST (exit 0 only when reachable)")
    p.add_argument("src", metavar="SRC", help="container or host")
    p.add_argument("dst", metavar="DST", help="container, alias, IP, host, or HOST:PORT of a published port")
    _proto_args(p)
    p.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for an answer (default 1)")
    p.add_argument("--size", type=int, help="the IP packet's length in bytes, DF set (icmp, udp): test a path's MTU")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=probe)

    g = sub.add_parser("ping", help="shorthand for `probe SRC DST --proto icmp`")
    g.add_argument("src", metavar="SRC")
    g.add_argument("dst", metavar="DST")
    g.add_argument("--timeout", type=float, default=1.0)
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=probe, proto="icmp", port=None)

    m = sub.add_parser("matrix", help="probe every container against every endpoint at once")
    _proto_args(m)
    m.add_argument("--network", help="only the endpoints on this network (with --by container: only its containers)")
    m.add_argument("--by", choices=("endpoint", "container"), default="endpoint",
                   help="a column per endpoint (CONTAINER@NETWORK, the default) or per container")
    m.add_argument("--explain", action="store_true", help="say why each ✗ happens")
    m.add_argument("--timeout", type=float, help="seconds to wait for answers (default 0.5)")
    m.add_argument("--size", type=int, help="every probe's IP packet length in bytes, DF set (icmp, udp)")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=matrix)

    t = sub.add_parser("trace", help="follow one probe hop by hop, and name the rule that drops it")
    t.add_argument("src", metavar="SRC")
    t.add_argument("dst", metavar="DST")
    _proto_args(t)
    t.add_argument("--timeout", type=float, help="seconds to wait for the reply (default 0.5)")
    t.add_argument("--size", type=int, help="the IP packet's length in bytes, DF set (icmp, udp)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=trace)


def _proto_args(parser) -> None:
    parser.add_argument("--proto", default="icmp", choices=PROTOS, help="icmp (default), tcp, udp, arp, dns, http")
    parser.add_argument("--port", type=int, help="destination port (tcp 80, udp 7, http 80, dns 53 by default)")


def probe(args) -> int:
    r = Client().probe(args.src, args.dst, proto=args.proto, port=args.port, timeout=args.timeout,
                       size=getattr(args, "size", None))
    if args.json:
        print_json(r)
    else:
        what = r["proto"] + (f"/{r['port']}" if r.get("port") else "")
        rtt = f" {r['rtt_ms']:.2f} ms" if r.get("rtt_ms") is not None else ""
        console.print(f"{MARK[r['outcome']]} [bold]{r['outcome']}[/bold]{rtt}  {r['source']} -> {r['destination']} "
                      f"({what}, {r.get('src_ip') or '?'} -> {r.get('dst_ip') or '?'})")
        console.print(f"  {r['reason']}", highlight=False)
    return 0 if r["outcome"] == "reachable" else 1


def matrix(args) -> int:
    m = Client().matrix(proto=args.proto, port=args.port, network=args.network, explain=args.explain,
                        timeout=args.timeout, by=args.by, size=args.size)
    if args.json:
        print_json(m)
        return 0
    names = m["containers"]
    columns = m.get("columns") or [{"name": n, "address": None} for n in names]
    if not names or not columns:
        console.print("no containers to probe")
        return 0
    cells = {(c["from"], c["to"]): c for c in m["cells"]}
    keys = list(m.get("legend", {}))
    title = f"reachability ({m['proto']}" + (f"/{m['port']}" if m.get("port") else "") + "): rows from, columns to"
    console.print(title, highlight=False)
    grid = Table(box=None, header_style="bold", pad_edge=False)
    grid.add_column("")
    for col in columns:
        grid.add_column(col["name"] + (f"\n[dim]{col['address']}[/dim]" if col.get("address") else ""), justify="center")
    for src in names:
        row = [f"[bold]{src}[/bold]"]
        for col in columns:
            cell = cells.get((src, col["name"]))
            if cell is None:
                row.append("[dim]·[/dim]")
                continue
            text = MARK[cell["outcome"]] + LETTER[cell["outcome"]]
            if args.explain and cell["outcome"] != "reachable" and cell.get("reason") in keys:
                text += f"[dim]{keys.index(cell['reason']) + 1}[/dim]"
            row.append(text)
        grid.add_row(*row)
    print_table(grid)
    console.print("[dim]✗ f filtered, t timeout, r refused, n no route[/dim]")
    for i, key in enumerate(keys, 1):
        console.print(f"  {i} {m['legend'][key]}", highlight=False)
    for warning in m.get("warnings") or []:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    return 0


def trace(args) -> int:
    t = Client().trace(args.src, args.dst, proto=args.proto, port=args.port, timeout=args.timeout, size=args.size)
    if args.json:
        print_json(t)
        return 0 if t["verdict"] != "dropped" else 1
    what = t["proto"] + (f"/{t['port']}" if t.get("port") else "")
    console.print(f"trace {t['source']} -> {t['destination']} ({what}, {t.get('src_ip')} -> {t.get('dst_ip')})",
                  highlight=False)
    grid = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("#", "at", "dir", "", "ms", 'packet (" = as above)'):
        grid.add_column(col, overflow="fold")
    leg, last = None, None
    replied = any(h["seen"] for h in t["hops"] if h["leg"] == "reply")
    for h in t["hops"]:
        if h["leg"] == "reply" and not replied:
            continue  # nothing came back: the reply leg would be a column of dots
        if h["leg"] != leg:
            if leg is not None:
                grid.add_section()
            leg, last = h["leg"], None
        packet = h["summary"] or ""
        if h["seen"] and packet == last and not h.get("nat"):
            packet = '[dim]"[/dim]'
        elif h["seen"]:
            last = packet
        if h.get("outer"):
            o = h["outer"]
            packet = f"[cyan]VXLAN {o['src']} > {o['dst']} udp/{o['udp_port']} vni {o['vni']}[/cyan] {packet}"
        if h.get("nat"):
            packet += f" [magenta]{h['nat']}[/magenta]"
        grid.add_row(str(h["index"]), f"{h['namespace']} {h['interface']}", h["direction"],
                     "[green]✓[/green]" if h["seen"] else "[red]·[/red]",
                     f"{h['time_ms']:.3f}" if h.get("time_ms") is not None else "", packet)
    print_table(grid)
    verdict = t["verdict"]
    if verdict == "dropped":
        where = f" after hop {t['dropped_after']}" if t.get("dropped_after") else " before the first hop"
        line = f"[red]dropped[/red]{where}"
        if t.get("reason"):  # the engine's one explanation, as the TUI and the notebook show it
            line += f": {t['reason']}"
        elif t.get("rule"):
            r = t["rule"]
            line += f": dropped in {r['namespace']} by {r['table']}/{r['chain']}: {r['rule']}"
        console.print(line, highlight=False)
    else:
        console.print(f"[green]{verdict}[/green]" + (f": {t['reason']}" if t.get("reason") else ""), highlight=False)
    return 0 if verdict != "dropped" else 1
