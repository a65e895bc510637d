"""The CNM diagram: lab state -> layout (boxes and points) -> SVG, in the chapter's style.

Each Docker host is a box; inside it each container's sandbox is a box with its endpoints as dots
on the bottom edge, each wired straight down to the bar of the network it joins. Local networks
are bars inside their host; global (overlay) networks are bars below the hosts spanning all of
them; macvlan networks are bars in the underlay band beside the LAN the hosts' eth0 plug into.

`layout()` is pure geometry, so tests can check it without parsing; `render()` turns a layout
into an ElementTree SVG element (every element carries class and data-* attributes that name
what it draws, which is how the tests and the browser find them).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from .state import LabState, NetworkInfo
from .svg import el, svg_root, to_string

MARGIN = 16
HOST_PAD = 16
HOST_HEADER = 30
HOST_MIN_W = 280
SANDBOX_H = 64
SANDBOX_MIN_W = 120
PER_ENDPOINT_W = 92
SANDBOX_GAP = 20
BAR_H = 8
BAR_STEP = 38  # vertical distance between two network bars (room for the label above each)
FIRST_BAR_DROP = 52  # from the sandboxes' bottom edge to the first bar
HOST_GAP = 36
BAND_GAP = 64  # from the hosts' bottom edge to the first overlay / underlay bar
DOT_R = 5
MIN_WIDTH = 470

PALETTE = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22")
STYLE = """
.cnm-diagram text { font-family: sans-serif; font-size: 11px; fill: #222; }
.cnm-diagram .host-box { fill: #f6f8fa; stroke: #57606a; stroke-width: 1.5; }
.cnm-diagram .host-box.plain { stroke-dasharray: 6 3; }
.cnm-diagram .host-label { font-weight: bold; font-size: 13px; }
.cnm-diagram .sandbox-box { fill: #fff; stroke: #24292f; stroke-width: 1.2; }
.cnm-diagram .sandbox-box.host-mode { stroke-dasharray: 4 3; fill: #fffbe6; }
.cnm-diagram .sandbox-box.stopped { stroke-dasharray: 2 3; fill: #f2f2f2; }
.cnm-diagram .sandbox-label { font-weight: bold; }
.cnm-diagram .small { font-size: 9px; fill: #57606a; }
.cnm-diagram .wire { stroke-width: 2; }
.cnm-diagram .network-bar.no-data-plane { opacity: 0.35; }
.cnm-diagram .lan-bar { fill: #57606a; }
.cnm-diagram .host-nic { fill: #57606a; }
.cnm-diagram .band-label { font-style: italic; fill: #57606a; }
.cnm-diagram .on-path { stroke: #bf8700; stroke-width: 4; }
.cnm-diagram .host-box.on-path { stroke-width: 3; }
.cnm-diagram .lan-bar.on-path { fill: #bf8700; }
.cnm-diagram .drop-mark { fill: #cf222e; font-size: 22px; font-weight: bold; }
"""


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass(frozen=True)
class Bar:
    network: NetworkInfo
    box: Box
    color: str
    band: str  # "host" (inside its host), "global" (spans hosts) or "underlay"


@dataclass(frozen=True)
class Dot:
    endpoint_id: str
    container: str
    network_id: str
    x: float
    y: float
    label: str
    ip: str


@dataclass(frozen=True)
class Path:
    """What one traced packet touched, to draw over the diagram."""

    endpoints: frozenset[str] = frozenset()  # the endpoints it left and entered by
    hosts: frozenset[str] = frozenset()  # the Docker hosts whose namespaces saw it
    underlay: bool = False  # it crossed the LAN (VXLAN, published ports, macvlan)
    dropped_in: str | None = None  # the host or container whose rule dropped it


def trace_path(state: LabState, trace: dict) -> Path:
    """The diagram's view of a trace (the agreed trace JSON): endpoints by address, hosts by namespace."""
    host_names = {h.name for h in state.hosts}

    def host_of(namespace: str) -> str | None:
        # a host's own namespace, or a namespace that belongs to one (overlay's "1-abc@host1")
        name = namespace.rsplit("@", 1)[-1]
        return name if name in host_names else None

    seen = [h for h in trace.get("hops", []) if h.get("seen")]
    def by_ip(ip: str | None, container: str | None) -> set[str]:
        matches = [e for e in state.endpoints if ip and e.ip == ip]
        return {e.id for e in ([e for e in matches if e.container == container] or matches)}

    endpoints = by_ip(trace.get("src_ip"), trace.get("source")) | by_ip(trace.get("dst_ip"), trace.get("destination"))
    hosts = {host_of(h["namespace"]) for h in seen if h.get("kind") == "host"} - {None}
    dropped_in = None
    if trace.get("verdict") == "dropped":
        rule = trace.get("rule") or {}
        at = rule.get("namespace") or next((h["namespace"] for h in trace.get("hops", [])
                                            if h.get("index") == trace.get("dropped_after")), None)
        dropped_in = (host_of(at) or at) if at else None
    return Path(frozenset(endpoints), frozenset(hosts), any(h.get("kind") == "underlay" for h in seen), dropped_in)


@dataclass
class Layout:
    width: float = 0
    height: float = 0
    hosts: dict[str, Box] = field(default_factory=dict)
    sandboxes: dict[str, Box] = field(default_factory=dict)
    dots: list[Dot] = field(default_factory=list)
    bars: dict[str, Bar] = field(default_factory=dict)  # by network id
    host_nics: dict[str, tuple[float, float]] = field(default_factory=dict)
    lan: Box | None = None
    state: LabState = field(default_factory=LabState)


def layout(state: LabState) -> Layout:
    out = Layout(state=state)
    eps_of: dict[str, list] = {}  # container -> its endpoints (indexes keep big labs linear)
    joined = {e.network_id for e in state.endpoints}
    for e in state.endpoints:
        eps_of.setdefault(e.container, []).append(e)

    def drawn(net: NetworkInfo) -> bool:
        """Every network with a data plane, plus host/none only when something joined them."""
        return net.has_data_plane or net.id in joined

    colors = {n.id: PALETTE[i % len(PALETTE)] for i, n in enumerate(n for n in state.networks if drawn(n))}
    by_host: dict[str, list] = {h.name: [] for h in state.hosts}
    for c in state.containers:
        by_host.setdefault(c.host, []).append(c)
    host_names = list(by_host)

    def local_bars(host: str) -> list[NetworkInfo]:
        nets = [n for n in state.networks if n.host == host and not n.on_underlay and drawn(n)]
        return sorted(nets, key=lambda n: (n.name != "bridge", not n.has_data_plane, n.name))

    def sandbox_width(name: str) -> float:
        return max(SANDBOX_MIN_W, PER_ENDPOINT_W * len(eps_of.get(name, ())) + 16)

    # 1. host boxes, side by side, all as tall as the tallest
    top = MARGIN
    sandbox_top = top + HOST_HEADER
    most_bars = max((len(local_bars(h)) for h in host_names), default=0)
    host_h = HOST_HEADER + SANDBOX_H + FIRST_BAR_DROP + max(most_bars - 1, 0) * BAR_STEP + BAR_H + 28
    x = MARGIN
    for h in host_names:
        inner = sum(sandbox_width(c.name) for c in by_host[h]) + SANDBOX_GAP * max(len(by_host[h]) - 1, 0)
        w = max(HOST_MIN_W, inner + 2 * HOST_PAD)
        out.hosts[h] = Box(x, top, w, host_h)
        x += w + HOST_GAP
    right = max((b.right for b in out.hosts.values()), default=MARGIN + HOST_MIN_W)
    hosts_bottom = top + host_h

    # 2. sandboxes in a row inside their host, endpoints as dots on the bottom edge
    for h in host_names:
        sx = out.hosts[h].x + HOST_PAD
        for c in by_host[h]:
            box = Box(sx, sandbox_top, sandbox_width(c.name), SANDBOX_H)
            out.sandboxes[c.name] = box
            eps = eps_of.get(c.name, [])
            for i, ep in enumerate(eps):
                dx = box.x + box.w * (i + 1) / (len(eps) + 1)
                out.dots.append(Dot(ep.id, c.name, ep.network_id, dx, box.bottom, ep.interface or ep.network, ep.ip))
            sx += box.w + SANDBOX_GAP

    # 3. local network bars inside each host
    for h in host_names:
        hb = out.hosts[h]
        for i, net in enumerate(local_bars(h)):
            y = sandbox_top + SANDBOX_H + FIRST_BAR_DROP + i * BAR_STEP
            out.bars[net.id] = Bar(net, Box(hb.x + 8, y, hb.w - 16, BAR_H), colors[net.id], "host")

    # 4. global networks spanning the hosts, then the underlay band (macvlan bars, the LAN)
    y = hosts_bottom + BAND_GAP
    for net in sorted((n for n in state.networks if n.spans_hosts and not n.on_underlay and drawn(n)),
                      key=lambda n: n.name):
        out.bars[net.id] = Bar(net, Box(MARGIN, y, right - MARGIN, BAR_H), colors[net.id], "global")
        y += BAR_STEP
    for net in sorted((n for n in state.networks if n.on_underlay), key=lambda n: n.name):
        span = out.hosts.get(net.host) if net.host else None
        box = Box(span.x, y, span.w, BAR_H) if span else Box(MARGIN, y, right - MARGIN, BAR_H)
        out.bars[net.id] = Bar(net, box, colors[net.id], "underlay")
        y += BAR_STEP
    out.lan = Box(MARGIN, y, max(right, MIN_WIDTH) - MARGIN, BAR_H)
    for h in host_names:
        hb = out.hosts[h]
        out.host_nics[h] = (hb.x + 40, hb.bottom)
    out.width = max(right, MIN_WIDTH) + MARGIN  # room for the LAN's label in a one-host lab
    out.height = y + BAR_H + 30
    return out


def render(lay: Layout, path: Path | None = None) -> ET.Element:
    state = lay.state
    path = path or Path()
    hosts = {h.name: h for h in state.hosts}
    containers = {c.name: c for c in state.containers}
    svg = svg_root(lay.width, lay.height, "cnm-diagram", STYLE)

    for name, box in lay.hosts.items():
        info = hosts.get(name)
        g = el(svg, "g", class_="host", data_host=name)
        cls = "host-box" + (" plain" if info and info.plain else "") + (" on-path" if name in path.hosts else "")
        el(g, "rect", class_=cls, x=box.x, y=box.y, width=box.w, height=box.h, rx=8)
        label = f"{name}  {info.address}" if info else name
        el(g, "text", label + ("  (plain machine)" if info and info.plain else "  (Docker host)"),
            class_="host-label", x=box.x + 10, y=box.y + 19)

    underlay = el(svg, "g", class_="underlay")
    if lay.lan:
        lan = lay.lan
        el(underlay, "rect", class_="lan-bar on-path" if path.underlay else "lan-bar",
           x=lan.x, y=lan.y, width=lan.w, height=lan.h, rx=3)
        el(underlay, "text", "underlay LAN 192.168.100.0/24 (switch lab0, router 192.168.100.1)",
            x=lan.x + 4, y=lan.y + lan.h + 14)
    global_label = True
    for bar in lay.bars.values():
        if bar.band == "global" and global_label:
            el(svg, "text", "overlay networks (span hosts)", class_="band-label", x=MARGIN, y=bar.box.y - 18)
            global_label = False
        _bar(underlay if bar.band == "underlay" else svg, bar)
    for name, (nx, ny) in lay.host_nics.items():
        if lay.lan:
            el(underlay, "line", class_="host-wire", data_host=name, x1=nx, y1=ny, x2=nx, y2=lay.lan.y,
                stroke="#57606a", stroke_width=2)
        el(underlay, "circle", class_="host-nic", data_host=name, cx=nx, cy=ny, r=DOT_R)
        address = hosts[name].address if name in hosts else ""
        el(underlay, "text", f"eth0 {address}", class_="small", x=nx + 8, y=ny + 14)

    wires = el(svg, "g", class_="wires")
    for dot in lay.dots:
        bar = lay.bars.get(dot.network_id)
        if bar is None:
            continue
        el(wires, "line", class_="wire on-path" if dot.endpoint_id in path.endpoints else "wire",
           data_endpoint=dot.endpoint_id, data_network=dot.network_id,
            x1=dot.x, y1=dot.y, x2=dot.x, y2=bar.box.y, stroke=bar.color)
        el(wires, "circle", class_="junction", cx=dot.x, cy=bar.box.y + bar.box.h / 2, r=3.5, fill=bar.color,
            stroke="#fff")

    dots_of: dict[str, list[Dot]] = {}
    for dot in lay.dots:
        dots_of.setdefault(dot.container, []).append(dot)
    for name, box in lay.sandboxes.items():
        c = containers[name]
        g = el(svg, "g", class_="sandbox", data_container=name, data_host=c.host, data_state=c.state)
        host_mode = c.mode == "host"
        kind = "host-mode" if host_mode else ("stopped" if c.state not in ("running", "") else "")
        el(g, "rect", class_=f"sandbox-box {kind}".strip(), x=box.x, y=box.y, width=box.w, height=box.h, rx=6)
        el(g, "text", name, class_="sandbox-label", x=box.x + 8, y=box.y + 15)
        caption = f"sandbox: {c.host} netns" if host_mode else c.note or f"sandbox: netns {name}"
        el(g, "text", caption, class_="small note" if c.note else "small", x=box.x + 8, y=box.y + 27)
        for dot in dots_of.get(name, []):
            color = lay.bars[dot.network_id].color if dot.network_id in lay.bars else "#000"
            e = el(g, "circle", class_="endpoint", data_endpoint=dot.endpoint_id, data_network=dot.network_id,
                    data_container=name, cx=dot.x, cy=dot.y, r=DOT_R, fill=color)
            el(e, "title", f"endpoint {dot.endpoint_id[:12]}: {dot.label} {dot.ip}".strip())
            el(g, "text", dot.label, class_="small", text_anchor="middle", x=dot.x, y=dot.y - 18)
            if dot.ip:
                el(g, "text", dot.ip, class_="small", text_anchor="middle", x=dot.x, y=dot.y - 8)
    drop_box = lay.hosts.get(path.dropped_in or "") or lay.sandboxes.get(path.dropped_in or "")
    if drop_box:
        mark = el(svg, "text", "✗", class_="drop-mark", data_in=path.dropped_in, x=drop_box.right - 22,
                  y=drop_box.y + 22)
        el(mark, "title", f"the packet was dropped in {path.dropped_in}")
    return svg


def _bar(parent: ET.Element, bar: Bar) -> None:
    net = bar.network
    g = el(parent, "g", class_="network", data_network=net.id, data_name=net.name, data_driver=net.driver,
            data_band=bar.band)
    cls = "network-bar" if net.has_data_plane else "network-bar no-data-plane"
    el(g, "rect", class_=cls, x=bar.box.x, y=bar.box.y, width=bar.box.w, height=bar.box.h, rx=3, fill=bar.color)
    words = [net.name, f"[{net.driver}]", net.device, net.subnet, "internal" if net.internal else "",
             "on the underlay LAN" if bar.band == "underlay" else ""]
    el(g, "text", "  ".join(w for w in words if w), x=bar.box.x + 4, y=bar.box.y - 4)


def to_svg(state: LabState, path: Path | None = None) -> str:
    """The diagram of `state` (with a traced packet's path drawn over it) as an SVG document string."""
    return to_string(render(layout(state), path))
