"""The CNM picture as the chapter draws it: sandbox boxes holding endpoint dots, networks as bars.

    ┌─ container-a ┐ ┌─ container-b ──┐
    │ ● eth0       │ │ ● eth0  ● eth1 │
    └─┬────────────┘ └─┬───────┬──────┘
net-a ●━━━━━━━━━━━━━━━━●━━━━━━━╂━━━━━━━ bridge 172.18.0.0/16
                               │
net-b ━━━━━━━━━━━━━━━━━━━━━━━━━●━━━━━━━ bridge 172.19.0.0/16

A pure function of the lab model, returning rich Text, so the widget and the tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:  # the model (msgspec, the API's views) loads with the first lab, after the first frame
    from .model import ContainerView, LabModel

NETWORK_COLORS = ("cyan", "magenta", "green", "yellow", "bright_blue", "red", "bright_cyan", "bright_magenta")
EMPTY = "No sandboxes yet. Press r to run a container, n to create a network."


@dataclass(frozen=True)
class Selection:
    """What the user picked in the tree: kind is host | network | endpoint | container."""

    kind: str
    key: str  # host name, network id, container name
    network: str = ""  # for an endpoint: the network's name

    @property
    def container(self) -> str | None:
        return self.key if self.kind in ("container", "endpoint") else None


class _Canvas:
    def __init__(self, width: int, height: int):
        self.cells = [[(" ", "") for _ in range(width)] for _ in range(height)]

    def put(self, row: int, col: int, text: str, style: str = "") -> None:
        line = self.cells[row]
        for i, ch in enumerate(text):
            if 0 <= col + i < len(line):
                line[col + i] = (ch, style)

    def text(self) -> Text:
        out = Text(no_wrap=True, overflow="ignore")
        for r, line in enumerate(self.cells):
            while line and line[-1][0] == " ":
                line = line[:-1]
            for ch, style in line:
                out.append(ch, style)
            if r < len(self.cells) - 1:
                out.append("\n")
        return out


def network_color(lab: LabModel, network_id: str) -> str:
    ids = [n.id for n in lab.drawn_networks()]
    return NETWORK_COLORS[ids.index(network_id) % len(NETWORK_COLORS)] if network_id in ids else "white"


def draw_cnm(lab: LabModel, selected: Selection | None = None, width: int | None = None) -> Text:
    """The picture; networks' driver and subnet go right of their bars when `width` leaves room,
    else in a key under the picture (a network's details are what a student reads it for)."""
    room = width  # (the name `width` is reused for each box below)
    nets = lab.drawn_networks()
    if not lab.containers and not nets:
        return Text(EMPTY, style="dim")
    row_of = {n.id: i for i, n in enumerate(nets)}
    labels = [lab.network_label(n) for n in nets]
    left = max((len(s) for s in labels), default=0) + 1
    several_hosts = len({c.host for c in lab.containers}) > 1

    # Lay the sandboxes out left to right; remember where each endpoint's dot sits.
    boxes, dots, x = [], [], left + 1
    for c in lab.containers:
        title = f"{c.name} @{c.host}" if several_hosts else c.name
        slots = [f"● {ep.interface}".rstrip() for ep in c.endpoints]
        inner = "  ".join(slots) or c.note  # a stopped sandbox says so: "exited (3)", "created"
        width = max(len(inner) + 2, len(title) + 4) + 2
        boxes.append((c, title, x, width, slots))
        offset = x + 2
        for ep, slot in zip(c.endpoints, slots):
            if ep.network_id in row_of:
                dots.append((offset, ep.network_id, c))
            offset += len(slot) + 2
        x += width + 1
    bar_end = max(x, left + 24)
    details = bar_end + 1 + max((len(_details(n)) + 1 for n in nets), default=0)
    show_details = room is None or details <= room
    bars_height = 3 + max(2 * len(nets) - 1, 0)
    key_row = bars_height + 1  # the key under the picture, when the details do not fit beside the bars
    if show_details:
        canvas = _Canvas(details, bars_height)
    else:
        key_width = left + 1 + max((len(_details(n)) for n in nets), default=0)
        canvas = _Canvas(max(bar_end, key_width), key_row + len(nets) if nets else bars_height)

    for c, title, bx, width, slots in boxes:
        style = "bold yellow" if selected and selected.container == c.name else "bold"
        canvas.put(0, bx, "┌─ " + title + " " + "─" * (width - len(title) - 5) + "┐", style)
        canvas.put(1, bx, "│" + " " * (width - 2) + "│", style)
        canvas.put(2, bx, "└" + "─" * (width - 2) + "┘", style)
        if not slots and c.note:
            canvas.put(1, bx + 2, c.note, "dim")
        offset = bx + 2
        for ep, slot in zip(c.endpoints, slots):
            color = network_color(lab, ep.network_id)
            picked = selected and selected.kind == "endpoint" and selected.key == c.name and selected.network == ep.network
            canvas.put(1, offset, "●", f"bold {color}" + (" reverse" if picked else ""))
            canvas.put(1, offset + 2, ep.interface, color)
            if ep.network_id in row_of:
                canvas.put(2, offset, "┬", style)
            offset += len(slot) + 2

    for i, net in enumerate(nets):
        row, color = 3 + 2 * i, network_color(lab, net.id)
        picked = selected is not None and selected.kind == "network" and selected.key == net.id
        canvas.put(row, 0, labels[i], f"bold {color}" + (" reverse" if picked else ""))
        canvas.put(row, left, "━" * (bar_end - left), color)
        if show_details:
            canvas.put(row, bar_end + 1, _details(net), "dim")
        else:
            canvas.put(key_row + i, 0, labels[i], f"bold {color}")
            canvas.put(key_row + i, left + 1, _details(net), "dim")
        for col, net_id, _ in dots:
            target = row_of[net_id]
            if target == i:
                canvas.put(row, col, "●", f"bold {color}")
            elif target > i:
                canvas.put(row, col, "╂", network_color(lab, net_id))
                canvas.put(row + 1, col, "│", network_color(lab, net_id))
    return canvas.text()


def _details(net) -> str:
    extra = " internal" if net.internal else ""
    return f"{net.driver} {net.subnet}{extra}".strip()


def describe(lab: LabModel, container: ContainerView) -> str:
    """One line for a sandbox: which networks its endpoints plug into."""
    parts = [f"{ep.network} ({ep.interface} {ep.ip})" for ep in container.endpoints]
    return f"{container.name} on {container.host}: " + (", ".join(parts) or container.note or "no endpoints")
