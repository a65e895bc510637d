"""The home screen: the lab as a tree (hosts → networks → endpoints → sandboxes), the CNM picture
beside it, and the selected object's inspect JSON (the same JSON as the CLI's inspect)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical
from textual.screen import Screen
from textual.widgets import Header, Static, Tree

from .calls import readable
from .footer import Footer
from .guide import LabGuide
from .picture import Selection, draw_cnm, network_color

if TYPE_CHECKING:
    from .model import LabModel


def still_there(lab: LabModel, sel: Selection | None) -> bool:
    if sel is None:
        return False
    if sel.kind == "host":
        return any(h.name == sel.key for h in lab.hosts)
    if sel.kind == "network":
        return lab.network_by_id(sel.key) is not None
    ctr = lab.container(sel.key)
    return ctr is not None and (sel.kind == "container" or any(e.network == sel.network for e in ctr.endpoints))


class TopologyTree(Tree[Selection]):
    """Hosts → networks (driver, subnet, scope) → endpoints (interface, IP, MAC) → sandboxes."""

    def __init__(self, **kwargs):
        # A Text, not a str: Tree reads a str label as markup, and rich's markup loads its emoji
        # table (3,600 names, ~5 ms) for the first one, before the first frame.
        super().__init__(Text("lab"), **kwargs)
        self.show_root = False
        self.guide_depth = 2

    def show_lab(self, lab: LabModel) -> None:
        keep = self.cursor_node.data if self.cursor_node else None
        self.clear()
        for host in lab.hosts:
            kind = "plain machine" if host.plain else "docker host"
            hnode = self.root.add(Text.assemble((host.name, "bold"), f" {host.address} ", (kind, "dim")),
                                  data=Selection("host", host.name), expand=True)
            for net in lab.networks_on(host):
                color = network_color(lab, net.id)
                label = Text.assemble((net.name, f"bold {color}"), f" {net.driver} ", net.subnet or "-",
                                      (f" {net.scope}", "dim"), (" internal" if net.internal else "", "dim"))
                nnode = hnode.add(label, data=Selection("network", net.id), expand=True)
                for ep in lab.endpoints_on(net, host.name):
                    enode = nnode.add(Text.assemble(("● ", color), ep.interface, " ", (ep.ip, "bold"), " ",
                                                    (ep.mac, "dim")),
                                      data=Selection("endpoint", ep.container, ep.network), expand=True)
                    enode.add_leaf(Text.assemble(("▣ ", "yellow"), ep.container),
                                   data=Selection("container", ep.container))
            for c in lab.containers:
                if c.host == host.name and not c.endpoints:
                    hnode.add_leaf(Text.assemble(("▣ ", "yellow"), c.name, (" " + (c.note or "no endpoints"), "dim")),
                                   data=Selection("container", c.name))
        self.root.expand()
        if keep is not None:
            self.call_after_refresh(self._restore_cursor, keep)

    def _restore_cursor(self, keep: Selection) -> None:
        for line in range(self.last_line + 1):
            node = self.get_node_at_line(line)
            if node is not None and node.data == keep:
                self.move_cursor(node)
                return


class CnmPicture(Static):
    """The chapter's figure, live: sandbox boxes with endpoint dots, networks as bars."""

    def show_lab(self, lab: LabModel, selected: Selection | None) -> None:
        room = self.parent.scrollable_content_region.width if self.parent else 0
        self.update(draw_cnm(lab, selected, width=room or None))


class InspectPane(ScrollableContainer):
    """The selected object's inspect JSON, as `cnmlab ... inspect` prints it."""

    def compose(self) -> ComposeResult:
        yield Static("Select an object in the tree to see its inspect JSON.", id="inspect-json")

    def show_json(self, title: str, data) -> None:
        self.border_title = title
        from rich.syntax import Syntax  # pygments is slow to import: after the first frame

        text = json.dumps(data, indent=2)
        self.query_one("#inspect-json", Static).update(Syntax(text, "json", theme="ansi_dark",
                                                               background_color="default"))


def picture_pane(pane_id: str) -> ScrollableContainer:
    pane = ScrollableContainer(CnmPicture("Connecting to the engine…"), id=pane_id, classes="picture-pane")
    pane.border_title = "CNM"
    pane.can_focus = False
    return pane


class TopologyScreen(Screen):
    AUTO_FOCUS = "#tree"
    BINDINGS = [
        Binding("n", "app.create_network", "Network", tooltip="create a network"),
        Binding("r", "app.run_container", "Run", tooltip="run a container"),
        Binding("c", "app.connect", "Connect", tooltip="connect a container to a network"),
        Binding("d", "app.disconnect", "Disconnect", tooltip="disconnect an endpoint"),
        Binding("x,delete", "app.remove", "Remove", tooltip="remove the selected object"),
        Binding("a", "app.add_host", "Host", tooltip="add a simulated Docker host", show=False),  # 80 columns: in help
    ]

    NARROW = 120  # below this width the picture goes on top, full width, so more sandboxes fit

    def compose(self) -> ComposeResult:
        # The picture's pane on top (narrow terminals) is mounted when the screen is first narrow:
        # on a wide one it stays hidden, and the first frame does not build it.
        yield Header()
        with Horizontal(id="topology"):
            tree = TopologyTree(id="tree")
            tree.border_title = "topology"
            yield tree
            with Vertical(id="side"):
                yield picture_pane("picture-side")
                pane = InspectPane(id="inspect")
                pane.border_title = "inspect"
                yield pane
        yield LabGuide(id="guide")
        yield Footer(compact=True, show_command_palette=False)

    def on_resize(self, event) -> None:
        narrow = event.size.width < self.NARROW
        if narrow and not self.query("#picture-top"):
            self.mount(picture_pane("picture-top"), before="#topology")
            if self.app.status_text:
                self.show_status(self.app.status_text)  # what the other picture says till the lab loads
        self.set_class(narrow, "narrow")
        self.call_after_refresh(self.redraw_picture)  # its width decides whether network details fit

    def redraw_picture(self) -> None:
        if self.app.lab is not None:
            for picture in self.query(CnmPicture):
                picture.show_lab(self.app.lab, self.app.selection)

    def on_mount(self) -> None:
        self.watch(self.app, "status_text", self.show_status)
        self.app.lab_changed.subscribe(self, self.show_lab)
        if self.app.lab is not None:
            self.show_lab(self.app.lab)
        self.query_one(TopologyTree).focus()

    def show_lab(self, lab: LabModel) -> None:
        tree = self.query_one(TopologyTree)
        tree.show_lab(lab)
        tree.border_subtitle = (f"{len(lab.hosts)} host(s), {len(lab.networks)} networks, "
                                f"{len(lab.containers)} sandboxes")
        if not still_there(lab, self.app.selection) and lab.hosts:  # start with something in the inspect pane
            self.app.selection = Selection("host", lab.hosts[0].name)
        self.redraw_picture()
        self.load_inspect(self.app.selection)

    def show_status(self, text: str) -> None:
        """While the engine starts, the picture says what is happening."""
        if self.app.lab is None:
            for picture in self.query(CnmPicture):
                picture.update(text[:1].upper() + text[1:])

    @on(Tree.NodeHighlighted, "#tree")
    def selected(self, event: Tree.NodeHighlighted) -> None:
        selection = event.node.data
        if selection is None or selection == self.app.selection:
            return
        self.app.selection = selection
        self.redraw_picture()
        self.load_inspect(selection)

    @work(thread=True, exclusive=True, group="inspect")
    def load_inspect(self, selection: Selection) -> None:
        client = self.app.client
        try:
            if selection.kind == "host":
                title, data = f"host {selection.key}", client.host(selection.key)
            elif selection.kind == "network":
                data = client.network_inspect(selection.key)
                title = f"network {data['Name']}"
            elif selection.kind == "container":
                title, data = f"container {selection.key}", client.inspect(selection.key)
            else:
                settings = client.inspect(selection.key)["NetworkSettings"]["Networks"]
                title = f"endpoint {selection.key} on {selection.network}"
                data = settings.get(selection.network, {})
        except Exception as exc:  # the pane says why; the tree refreshes on the next event
            title, data = "inspect", {"error": readable(exc)}
        self.app.call_from_thread(self.query_one(InspectPane).show_json, title, data)
