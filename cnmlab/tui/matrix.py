"""The reachability matrix: every sandbox against every endpoint (`container@network`), probed, as
a colored grid; re-run with one key; the highlighted cell is explained underneath. `f` narrows the
columns to one network's endpoints (the engine's `network` filter), and the screen's title says
which."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, DataTable, Header, Input, Label, Select, Static

from . import SCREENS_CSS
from .calls import readable
from .fields import ScreenField, keep_focus_off_fields
from .footer import Footer
from .probe import OUTCOME_STYLE, PROTOCOLS, rule_line

SYMBOL = {"reachable": "✔ ok", "refused": "⊘ refused", "no route": "✘ no route", "timeout": "✘ timeout",
          "filtered": "▨ filtered"}


def cell_text(cell: dict | None) -> Text:
    if cell is None:
        return Text("·", "dim")
    outcome = cell.get("outcome", "?")
    return Text(SYMBOL.get(outcome, outcome), OUTCOME_STYLE.get(outcome, ""))


def explain(cell: dict, legend: dict | None = None) -> Text:
    """The cell's outcome, the sentence that explains it, the general rule (legend) and the dropping rule."""
    legend = legend or {}
    rtt = f" in {cell['rtt_ms']:.2f} ms" if cell.get("rtt_ms") is not None else ""
    key = cell.get("reason") or ""
    text = Text.assemble((f"{cell['from']} → {cell['to']}", "bold"), f" ({cell.get('dst_ip')}): ",
                         (cell.get("outcome", "?"), OUTCOME_STYLE.get(cell.get("outcome"), "bold")), rtt, "\n",
                         ("why: ", "dim"), cell.get("detail") or legend.get(key) or key)
    if cell.get("detail") and key in legend:
        text.append(f"\n{legend[key]}", "dim")
    text.append(rule_line(cell.get("rule")))
    return text


ALL_NETWORKS = "all networks"


def column_names(result: dict) -> list[str]:
    """The destinations, left to right: the matrix's columns (endpoints), or its containers."""
    return [c["name"] for c in result.get("columns") or []] or list(result.get("containers", []))


def network_choices(lab) -> list[tuple[str, str]]:
    """(label, id) of the networks worth filtering on: those with sandboxes on them. The id goes to
    the engine (names repeat across hosts); the label, with its host where needed, is what shows."""
    if lab is None:
        return []
    return [(lab.network_label(n), n.id) for n in lab.networks if lab.endpoints_on(n)]


class PortField(ScreenField):
    BINDINGS = [Binding("enter", "submit", "Run")]


class MatrixScreen(Screen):
    CSS_PATH = SCREENS_CSS
    AUTO_FOCUS = "#grid"
    BINDINGS = [Binding("r", "run", "Re-run"), Binding("f", "next_network", "Network filter")]

    def __init__(self):
        super().__init__()
        self.result: dict | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="matrix-form"):
            yield Label("every sandbox to")
            yield Select([], id="m-net", prompt=ALL_NETWORKS, compact=True)
            yield Select([(p, p) for p in PROTOCOLS], value="icmp", allow_blank=False, id="m-proto", compact=True)
            yield PortField(placeholder="port", id="m-port", compact=True, type="integer", max_length=5, leave_to="#grid")
            yield Button("Run", id="m-run", variant="primary", compact=True)
        grid = DataTable(id="grid", cursor_type="cell", zebra_stripes=False)
        grid.border_title = "reachability (rows: from, columns: to)"
        yield grid
        detail = Static("Press r to run the matrix; move over a cell to see why.", id="cell-detail")
        detail.border_title = "explain"
        yield detail
        yield Footer(compact=True, show_command_palette=False)

    def on_screen_resume(self) -> None:
        keep_focus_off_fields(self, "#grid")

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.show_networks)
        self.show_networks(self.app.lab)
        self.show_filter()
        self.query_one(DataTable).focus()
        if self.app.lab is not None and len(self.app.lab.containers) > 1:
            self.action_run()

    @property
    def network(self) -> str | None:
        """The id of the network the matrix is narrowed to, or None for all of them."""
        value = self.query_one("#m-net", Select).value
        return None if value is Select.NULL else str(value)

    @property
    def network_name(self) -> str | None:
        return {i: label for label, i in network_choices(self.app.lab)}.get(self.network, self.network)

    def show_networks(self, lab) -> None:
        select = self.query_one("#m-net", Select)
        current, choices = select.value, network_choices(lab)
        with self.prevent(Select.Changed):  # a lab change alone does not re-run the matrix
            select.set_options(choices)
            if current in [i for _, i in choices]:
                select.value = current

    def show_filter(self) -> None:
        name = self.network_name
        self.title = f"cnmlab · matrix on {name}" if name else None  # None: the app's own title
        self.query_one(DataTable).border_title = \
            f"on {name} (rows: from, columns: to)" if name else "reachability (rows: from, columns: to)"

    def action_next_network(self) -> None:
        """Step the filter: all networks → each network with sandboxes → all networks again."""
        choices = [None, *[i for _, i in network_choices(self.app.lab)]]
        at = choices.index(self.network) if self.network in choices else 0
        chosen = choices[(at + 1) % len(choices)]
        self.query_one("#m-net", Select).value = Select.NULL if chosen is None else chosen

    @on(Select.Changed, "#m-net")
    def network_chosen(self) -> None:
        self.show_filter()
        self.action_run()

    @on(Button.Pressed, "#m-run")
    @on(Input.Submitted, "#m-port")
    def action_run(self) -> None:
        proto = self.query_one("#m-proto", Select).value
        port_text = self.query_one("#m-port", Input).value.strip()
        if proto != "icmp" and not port_text:
            port_text = "80" if proto == "tcp" else "7"
            self.query_one("#m-port", Input).value = port_text
        self.query_one(DataTable).loading = True
        self.run_matrix(proto, int(port_text) if port_text and proto != "icmp" else None, self.network)

    @work(thread=True, exclusive=True, group="matrix")
    def run_matrix(self, proto: str, port: int | None, network: str | None) -> None:
        try:
            result = self.app.client.matrix(proto, port, network=network, explain=True)
        except Exception as exc:
            self.app.call_from_thread(self.failed, f"matrix failed: {readable(exc)}")
            return
        self.app.call_from_thread(self.show_matrix, result)

    def failed(self, message: str) -> None:
        self.query_one(DataTable).loading = False
        self.notify(message, severity="error", title="engine")

    def show_matrix(self, result: dict) -> None:
        if result.get("network") != self.network:  # a run from before the filter changed: stale
            return
        self.result = result
        cells = {(c["from"], c["to"]): c for c in result.get("cells", [])}
        names = result.get("containers", [])
        columns = column_names(result)
        grid = self.query_one(DataTable)
        grid.loading = False
        grid.clear(columns=True)
        grid.add_column("from \\ to", key="from")
        for name in columns:
            grid.add_column(name, key=name)
        for src in names:
            grid.add_row(Text(src, "bold"), *[cell_text(cells.get((src, dst))) for dst in columns], key=src)
        legend = result.get("legend") or {}
        grid.border_subtitle = f"{result.get('proto')}" + (f":{result['port']}" if result.get("port") else "") + \
            (f" · {len(legend)} reason{'s' if len(legend) > 1 else ''}" if legend else "")
        if grid.cursor_coordinate.column == 0 and columns:
            grid.move_cursor(column=1)
        self.explain_at(grid.cursor_coordinate.row, grid.cursor_coordinate.column)

    @on(DataTable.CellHighlighted)
    def highlighted(self, event: DataTable.CellHighlighted) -> None:
        self.explain_at(event.coordinate.row, event.coordinate.column)

    def explain_at(self, row: int, column: int) -> None:
        if self.result is None:
            return
        names, columns = self.result.get("containers", []), column_names(self.result)
        detail = self.query_one("#cell-detail", Static)
        if not (0 <= row < len(names)) or column < 1 or column > len(columns):
            detail.update(Text("Move onto a cell to see why it has its outcome.", "dim"))
            return
        src, dst = names[row], columns[column - 1]
        cell = next((c for c in self.result.get("cells", []) if c["from"] == src and c["to"] == dst), None)
        detail.update(explain(cell, self.result.get("legend")) if cell else Text(f"{src} → {dst}: not probed (same sandbox)", "dim"))
