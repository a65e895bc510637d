"""The reachability matrix as a colored heatmap: rows are sources, columns destinations (each
endpoint, `container@network` with its address, unless the matrix was made by container).

Each cell is colored by its outcome and carries its explanation twice: as a hover tooltip
(SVG <title>) and as a footnote number that points into the legend printed under the grid.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .svg import el, root, svg_root

OUTCOME_COLORS = {
    "reachable": "#2da44e",
    "refused": "#d29922",
    "no route": "#8c959f",
    "timeout": "#cf222e",
    "filtered": "#82071e",
}
OUTCOME_MARKS = {"reachable": "✓", "refused": "↺", "no route": "∅", "timeout": "✗", "filtered": "✗"}
CELL = 46
LABEL_W = 110
HEADER_H = 120  # room for `container@network` column names at 45°
STYLE = """
.cnm-matrix text { font-family: sans-serif; font-size: 12px; fill: #222; }
.cnm-matrix .mark { fill: #fff; font-size: 14px; font-weight: bold; }
.cnm-matrix .self { fill: #eaeef2; }
"""


def footnotes(matrix: dict) -> dict[str, int]:
    """Number each distinct explanation the cells use, in order of first use."""
    notes: dict[str, int] = {}
    for cell in matrix.get("cells", []):
        if cell.get("outcome") != "reachable" and cell.get("reason"):
            notes.setdefault(cell["reason"], len(notes) + 1)
    return notes


def explanation(matrix: dict, reason: str) -> str:
    """A cell's reason is a key into the legend when the engine explained it, or the text itself."""
    return (matrix.get("legend") or {}).get(reason, reason)


def column_names(matrix: dict) -> list[str]:
    """The destinations, left to right: the matrix's columns, or its containers (older results)."""
    return [c["name"] for c in matrix.get("columns") or []] or list(matrix.get("containers", []))


def render(matrix: dict) -> ET.Element:
    names = list(matrix.get("containers", []))
    columns = column_names(matrix)
    cells = {(c["from"], c["to"]): c for c in matrix.get("cells", [])}
    notes = footnotes(matrix)
    svg = svg_root(LABEL_W + len(columns) * CELL + 10, HEADER_H + len(names) * CELL + 10, "cnm-matrix", STYLE)
    el(svg, "text", "from ↓  to →", x=4, y=HEADER_H - 8)
    for j, name in enumerate(columns):
        x = LABEL_W + j * CELL + CELL / 2
        el(svg, "text", name, transform=f"rotate(-45 {x:g} {HEADER_H - 6:g})", x=x, y=HEADER_H - 6)
    for i, src in enumerate(names):
        y = HEADER_H + i * CELL
        el(svg, "text", src, x=LABEL_W - 6, y=y + CELL / 2 + 4, text_anchor="end")
        for j, dst in enumerate(columns):
            x = LABEL_W + j * CELL
            cell = cells.get((src, dst))
            if cell is None:
                el(svg, "rect", class_="self", x=x, y=y, width=CELL - 2, height=CELL - 2)
                continue
            outcome = cell.get("outcome", "")
            g = el(svg, "g", class_="cell", data_from=src, data_to=dst, data_outcome=outcome)
            el(g, "title", _tooltip(matrix, cell))
            el(g, "rect", x=x, y=y, width=CELL - 2, height=CELL - 2, rx=4, fill=OUTCOME_COLORS.get(outcome, "#444"))
            mark = OUTCOME_MARKS.get(outcome, "?") + (str(notes[cell["reason"]]) if cell.get("reason") in notes else "")
            el(g, "text", mark, class_="mark", x=x + (CELL - 2) / 2, y=y + CELL / 2 + 4, text_anchor="middle")
    return svg


def _tooltip(matrix: dict, cell: dict) -> str:
    parts = [f"{cell['from']} → {cell['to']}", cell.get("outcome", "")]
    if cell.get("dst_ip"):
        parts.append(f"to {cell['dst_ip']}")
    if cell.get("rtt_ms") is not None:
        parts.append(f"{cell['rtt_ms']:.2f} ms")
    text = " · ".join(p for p in parts if p)
    if cell.get("reason"):
        text += "\n" + explanation(matrix, cell["reason"])
    return text


def legend(matrix: dict) -> ET.Element:
    """Outcome colors, then each numbered explanation."""
    box = root("div", class_="cnm-matrix-legend")
    colors = el(box, "div")
    for outcome, color in OUTCOME_COLORS.items():
        chip = el(colors, "span", style="display:inline-block;margin-right:12px")
        el(chip, "span", OUTCOME_MARKS[outcome], style=f"background:{color};color:#fff;padding:0 6px;"
                                                        "border-radius:3px;margin-right:4px")
        chip[-1].tail = outcome
    notes = footnotes(matrix)
    if notes:
        ol = el(box, "ol", class_="reasons")
        for reason in notes:  # dicts keep insertion order: footnote 1 first
            el(ol, "li", explanation(matrix, reason))
    return box


def html(matrix: dict) -> str:
    from .svg import to_string

    title = f"reachability matrix · {matrix.get('proto', 'icmp')}"
    if matrix.get("port"):
        title += f"/{matrix['port']}"
    wrap = root("div", class_="cnm-matrix-view")
    el(wrap, "div", title, style="font-weight:bold;font-family:sans-serif")
    wrap.append(render(matrix))
    wrap.append(legend(matrix))
    return to_string(wrap)
