"""A packet trace as a hop ladder: one column per namespace, one rung per capture point.

Rungs go top to bottom in the order the packet passed them (request leg, then reply leg). A
filled dot means the probe was seen there, a hollow one that it never arrived. A red cross
after the last hop that saw it marks the drop, with the rule that dropped it; VXLAN hops show
their outer headers (underlay IPs, UDP port, VNI) under the decode.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .svg import el, root, svg_root, to_string

COL_W = 96
ROW_H = 46
TOP = 46
TEXT_GAP = 24
TEXT_W = 560
KIND_COLORS = {"container": "#1f77b4", "host": "#2ca02c", "underlay": "#57606a"}
VERDICT_COLORS = {"delivered": "#2da44e", "replied": "#2da44e", "dropped": "#cf222e"}
STYLE = """
.cnm-trace text { font-family: sans-serif; font-size: 11px; fill: #222; }
.cnm-trace .column { stroke: #d0d7de; stroke-width: 2; }
.cnm-trace .ns { font-weight: bold; }
.cnm-trace .outer { fill: #8250df; }
.cnm-trace .nat { fill: #9a6700; }
.cnm-trace .drop { fill: #cf222e; font-weight: bold; }
.cnm-trace .unseen { fill: #fff; stroke: #8c959f; stroke-width: 1.5; }
"""


def describe_rule(rule: dict | None) -> str:
    if not rule:
        return ""
    return f"dropped in {rule.get('namespace', '?')} by {rule.get('table', '?')}/{rule.get('chain', '?')}: " \
           f"{rule.get('rule', '')}".rstrip(": ")


def describe_outer(outer: dict | None) -> str:
    if not outer:
        return ""
    return f"outer {outer.get('src')} → {outer.get('dst')} UDP {outer.get('udp_port')} VNI {outer.get('vni')}"


def render(trace: dict) -> ET.Element:
    hops = trace.get("hops", [])
    columns: list[str] = []
    kinds: dict[str, str] = {}
    for hop in hops:
        if hop["namespace"] not in columns:
            columns.append(hop["namespace"])
            kinds[hop["namespace"]] = hop.get("kind", "")
    dropped_after = trace.get("dropped_after")
    extra = 1 if dropped_after is not None else 0
    text_x = len(columns) * COL_W + TEXT_GAP
    height = TOP + (len(hops) + extra) * ROW_H + 10
    svg = svg_root(text_x + TEXT_W, height, "cnm-trace", STYLE)
    cx = {ns: COL_W * i + COL_W / 2 for i, ns in enumerate(columns)}
    for ns in columns:
        el(svg, "line", class_="column", x1=cx[ns], y1=TOP - 10, x2=cx[ns], y2=height - 6)
        el(svg, "text", ns, class_="ns", x=cx[ns], y=16, text_anchor="middle", fill=KIND_COLORS.get(kinds[ns]))
        el(svg, "text", kinds[ns], x=cx[ns], y=30, text_anchor="middle", style="font-size:9px")

    prev = None
    row = 0
    for hop in hops:
        y = TOP + row * ROW_H + ROW_H / 2
        x = cx[hop["namespace"]]
        if prev is not None and hop.get("seen"):
            el(svg, "line", class_="step", x1=prev[0], y1=prev[1], x2=x, y2=y, stroke="#24292f",
               stroke_width=1.5, stroke_dasharray="4 3" if hop.get("leg") == "reply" else None)
        g = el(svg, "g", class_="hop", data_index=hop.get("index"), data_seen=str(bool(hop.get("seen"))).lower(),
               data_leg=hop.get("leg"))
        if hop.get("seen"):
            el(g, "circle", cx=x, cy=y, r=6, fill=KIND_COLORS.get(hop.get("kind"), "#24292f"))
        else:
            el(g, "circle", class_="unseen", cx=x, cy=y, r=6)
        arrow = {"out": "→", "in": "←", "fwd": "⇢"}.get(hop.get("direction"), "")
        head = f"#{hop.get('index')} {hop.get('leg', '')} · {hop['namespace']} {hop.get('interface', '')} " \
               f"{arrow} {hop.get('direction', '')}"
        if hop.get("time_ms") is not None:
            head += f" · {hop['time_ms']:.2f} ms"
        el(g, "text", head, x=text_x, y=y - 6, font_weight="bold")
        line2 = hop.get("summary") or ("(not seen)" if not hop.get("seen") else "")
        el(g, "text", line2, x=text_x, y=y + 7)
        notes = [(describe_outer(hop.get("outer")), "outer"), (f"NAT: {hop['nat']}" if hop.get("nat") else "", "nat")]
        note_y = y + 19
        for text, cls in notes:
            if text:
                el(g, "text", text, class_=cls, x=text_x, y=note_y)
                note_y += 11
        if hop.get("seen"):
            prev = (x, y)
        row += 1
        if dropped_after is not None and hop.get("index") == dropped_after:
            y2 = TOP + row * ROW_H + ROW_H / 2
            g = el(svg, "g", class_="drop-point", data_after=dropped_after)
            el(g, "text", "✗", class_="drop", x=x, y=y2 + 6, text_anchor="middle", style="font-size:18px")
            el(g, "text", describe_rule(trace.get("rule")) or "dropped here (no rule counter moved)", class_="drop",
               x=text_x, y=y2 + 4)
            row += 1
    return svg


def html(trace: dict) -> str:
    wrap = root("div", class_="cnm-trace-view")
    verdict = trace.get("verdict", "")
    head = el(wrap, "div", style="font-family:sans-serif")
    el(head, "b", f"trace {trace.get('source')} → {trace.get('destination')} ")
    el(head, "span", f"{trace.get('proto', '')}{'/' + str(trace['port']) if trace.get('port') else ''} "
                     f"({trace.get('src_ip', '')} → {trace.get('dst_ip', '')}) ")
    badge = el(head, "span", verdict, class_="verdict",
               style=f"background:{VERDICT_COLORS.get(verdict, '#444')};color:#fff;padding:1px 6px;border-radius:3px")
    if verdict == "dropped":
        after = trace.get("dropped_after")
        badge.text = f"dropped after hop {after}" if after else "dropped before the first hop"
        el(wrap, "div", trace.get("reason") or describe_rule(trace.get("rule")), class_="rule",
           style="font-family:monospace;color:#cf222e")
    wrap.append(render(trace))
    return to_string(wrap)
