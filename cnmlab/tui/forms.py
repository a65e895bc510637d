"""The action dialogs: create network, run container, connect, disconnect, add host, confirm remove.

Each dialog is one call into the client. Fields are checked as you type (the same checks the CLI
makes before it calls); the engine's own error shows inline under the fields and leaves the dialog
open, so nothing is half made and the student can fix the input.
"""

from __future__ import annotations

import ipaddress
import re

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ..api.types import ContainerCreate, NetworkCreate
from ..errors import CnmError
from ..ipam import check_subnet
from ..names import CONTAINER_NAME, NETWORK_NAME, check_host_name
from ..sandbox import parse_port
from . import SCREENS_CSS
from .calls import readable
from .model import LabModel
from .picture import Selection



def _split(text: str) -> list[str]:
    return [part for part in re.split(r"[,\s]+", text.strip()) if part]


def key_values(text: str) -> dict[str, str]:
    out = {}
    for pair in _split(text):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f'invalid option "{pair}": use KEY=VALUE')
        out[key] = value
    return out


class FormScreen(ModalScreen[str | None]):
    """A dialog of fields; submit runs `perform(client, values)` in a worker."""
    CSS_PATH = SCREENS_CSS

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    HEADING = ""
    SUBMIT = "OK"

    def __init__(self, lab: LabModel | None, selection: Selection | None = None):
        super().__init__()
        self.lab = lab or LabModel()
        self.selection = selection

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.HEADING
            with Grid(classes="fields"):
                yield from self.fields()
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button(self.SUBMIT, variant="primary", id="submit", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    # Subclasses fill these in.
    def fields(self) -> ComposeResult:
        yield from ()

    def values(self) -> dict:
        return {}

    def check(self, values: dict) -> str | None:
        return None

    def perform(self, client, values: dict) -> str:
        raise NotImplementedError

    # The common behaviour.
    def show_error(self, message: str) -> None:
        self.query_one("#error", Static).update(message)
        self.query_one("#submit", Button).disabled = False
        self.query_one(".dialog").loading = False

    def _problem(self) -> str | None:
        try:
            return self.check(self.values())
        except ValueError as exc:
            return str(exc)

    @on(Input.Changed)
    @on(Select.Changed)
    def live_check(self) -> None:
        self.query_one("#error", Static).update(self._problem() or "")

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def submit(self) -> None:
        problem = self._problem()
        if problem:
            self.show_error(problem)
            return
        self.query_one("#submit", Button).disabled = True
        self.query_one(".dialog").loading = True  # the progress indication while the engine works
        values = self.values()
        self.run_worker(lambda: self._perform(values), thread=True, exclusive=True, group="form")

    def _perform(self, values: dict) -> None:
        try:
            message = self.perform(self.app.client, values)
        except Exception as exc:  # the engine's one-line error, inline
            self.app.call_from_thread(self.show_error, readable(exc))
            return
        self.app.call_from_thread(self.dismiss, message)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    # Helpers for fields.
    def _host_options(self) -> list[tuple[str, str]]:
        return [(h.name, h.name) for h in self.lab.hosts if not h.plain] or [("host1", "host1")]

    def _text(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def _choice(self, widget_id: str):
        value = self.query_one(f"#{widget_id}", Select).value
        return None if value is Select.NULL else value


class CreateNetworkForm(FormScreen):
    HEADING = "Create network"
    SUBMIT = "Create"

    def __init__(self, lab: LabModel | None, drivers: list[str], selection: Selection | None = None):
        super().__init__(lab, selection)
        self.drivers = drivers or ["bridge"]

    def fields(self) -> ComposeResult:
        yield Label("Name")
        yield Input(placeholder="net-c", id="name", compact=True)
        yield Label("Driver")
        yield Select([(d, d) for d in self.drivers], value="bridge" if "bridge" in self.drivers else self.drivers[0],
                     allow_blank=False, id="driver", compact=True)
        yield Label("Subnet")
        yield Input(placeholder="automatic, e.g. 10.10.0.0/24", id="subnet", compact=True)
        yield Label("Gateway")
        yield Input(placeholder="automatic: the first address", id="gateway", compact=True)
        yield Label("Internal")
        yield Checkbox("no way out of the network", id="internal", compact=True)
        yield Label("Options")
        yield Input(placeholder="com.docker.network.bridge.enable_icc=false", id="options", compact=True)
        yield Label("Host")
        host = self.selection.key if self.selection and self.selection.kind == "host" else None
        options = self._host_options()
        yield Select(options, value=host if host in dict(options) else options[0][1], allow_blank=False,
                     id="host", compact=True)

    def values(self) -> dict:
        return {"name": self._text("name"), "driver": self._choice("driver"), "subnet": self._text("subnet"),
                "gateway": self._text("gateway"), "internal": self.query_one("#internal", Checkbox).value,
                "options": self._text("options"), "host": self._choice("host")}

    def check(self, v: dict) -> str | None:
        if not v["name"]:
            return "a network needs a name"
        if not NETWORK_NAME.match(v["name"]):
            return f'invalid name "{v["name"]}": use letters, digits, "_", "." and "-"'
        subnet = None
        if v["subnet"]:
            try:
                subnet = check_subnet(v["subnet"])  # the engine's own check and words
            except CnmError as exc:
                return exc.message
        if v["gateway"]:
            try:
                gw = ipaddress.ip_address(v["gateway"])
            except ValueError:
                return f'invalid gateway "{v["gateway"]}"'
            if subnet is None:
                return "a gateway needs a subnet"
            if gw not in subnet:
                return f"gateway {gw} is not in subnet {subnet}"
        key_values(v["options"])
        return None

    def perform(self, client, v: dict) -> str:
        client.network_create(NetworkCreate.of(v["name"], driver=v["driver"], subnet=v["subnet"] or None,
                                               gateway=v["gateway"] or None, internal=v["internal"],
                                               options=key_values(v["options"]), host=v["host"]))
        return f"created network {v['name']}"


class RunContainerForm(FormScreen):
    HEADING = "Run container"
    SUBMIT = "Run"

    def fields(self) -> ComposeResult:
        yield Label("Name")
        yield Input(placeholder="web1", id="name", compact=True)
        yield Label("Network")
        names = sorted({n.name for n in self.lab.networks} - {"bridge"})
        chosen = self.lab.network_by_id(self.selection.key) if self.selection and self.selection.kind == "network" \
            else None
        options = [("bridge (default)", "default")] + [(n, n) for n in names]
        yield Select(options, value=chosen.name if chosen and chosen.name in names else "default",
                     allow_blank=False, id="network", compact=True)
        yield Label("Alias")
        yield Input(placeholder="web (DNS name on user networks)", id="alias", compact=True)
        yield Label("Ports")
        yield Input(placeholder="8080:80 5353:53/udp", id="ports", compact=True)
        yield Label("Host")
        host_opts = self._host_options()
        yield Select(host_opts, value=host_opts[0][1], allow_blank=False, id="host", compact=True)

    def values(self) -> dict:
        return {"name": self._text("name"), "network": self._choice("network"), "alias": self._text("alias"),
                "ports": self._text("ports"), "host": self._choice("host")}

    def check(self, v: dict) -> str | None:
        if not CONTAINER_NAME.match(v["name"]):
            return "a container name needs 2+ characters: letters, digits, \"_\", \".\" and \"-\""
        for spec in _split(v["ports"]):
            try:
                parse_port(spec)
            except Exception as exc:
                return readable(exc)
        return None

    def perform(self, client, v: dict) -> str:
        network = None if v["network"] == "default" else v["network"]
        client.run(v["name"], ContainerCreate.of(network=network, aliases=_split(v["alias"]) or None,
                                                 ports=_split(v["ports"]) or None, host=v["host"]))
        return f"container {v['name']} is running"


class ConnectForm(FormScreen):
    HEADING = "Connect a container to a network"
    SUBMIT = "Connect"

    def fields(self) -> ComposeResult:
        sel = self.selection
        yield Label("Container")
        ctrs = [(c.name, c.name) for c in self.lab.containers]
        yield Select(ctrs, value=sel.container if sel and sel.container in dict(ctrs) else Select.NULL,
                     id="container", compact=True, prompt="pick a sandbox")
        yield Label("Network")
        nets = [(self.lab.network_label(n), n.id) for n in self.lab.networks if n.name not in ("host", "none")]
        yield Select(nets, value=sel.key if sel and sel.kind == "network" else Select.NULL,
                     id="network", compact=True, prompt="pick a network")
        yield Label("Alias")
        yield Input(placeholder="optional DNS alias", id="alias", compact=True)
        yield Label("IP")
        yield Input(placeholder="optional, e.g. 172.18.0.50", id="ip", compact=True)

    def values(self) -> dict:
        return {"container": self._choice("container"), "network": self._choice("network"),
                "alias": self._text("alias"), "ip": self._text("ip")}

    def check(self, v: dict) -> str | None:
        if not v["container"] or not v["network"]:
            return "pick a container and a network"
        if v["ip"]:
            try:
                ipaddress.IPv4Address(v["ip"])
            except ValueError:
                return f'invalid IP address "{v["ip"]}"'
        return None

    def perform(self, client, v: dict) -> str:
        client.connect(v["network"], v["container"], ip=v["ip"] or None, aliases=_split(v["alias"]) or None)
        net = self.lab.network_by_id(v["network"])
        return f"connected {v['container']} to {net.name if net else v['network']}"


class DisconnectForm(FormScreen):
    HEADING = "Disconnect an endpoint"
    SUBMIT = "Disconnect"

    def fields(self) -> ComposeResult:
        sel = self.selection
        yield Label("Endpoint")
        eps = [ep for c in self.lab.containers for ep in c.endpoints]
        options = [(f"{ep.container} · {ep.network} ({ep.interface} {ep.ip})", f"{ep.container}\t{ep.network_id}")
                   for ep in eps]
        value = Select.NULL
        if sel and sel.kind == "endpoint":
            value = next((f"{ep.container}\t{ep.network_id}" for ep in eps
                          if ep.container == sel.key and ep.network == sel.network), Select.NULL)
        yield Select(options, value=value, id="endpoint", compact=True, prompt="pick an endpoint")

    def values(self) -> dict:
        return {"endpoint": self._choice("endpoint")}

    def check(self, v: dict) -> str | None:
        return None if v["endpoint"] else "pick an endpoint"

    def perform(self, client, v: dict) -> str:
        container, network_id = v["endpoint"].split("\t")
        client.disconnect(network_id, container)
        net = self.lab.network_by_id(network_id)
        return f"disconnected {container} from {net.name if net else network_id}"


class AddHostForm(FormScreen):
    HEADING = "Add a host on the underlay LAN"
    SUBMIT = "Add"

    def fields(self) -> ComposeResult:
        yield Label("Name")
        n = len(self.lab.hosts) + 1
        yield Input(value=f"host{n}", id="name", compact=True)
        yield Label("Address")
        yield Input(placeholder="automatic: 192.168.100.1x", id="address", compact=True)
        yield Label("Kind")
        yield Checkbox("plain machine (no Docker)", id="plain", compact=True)

    def values(self) -> dict:
        return {"name": self._text("name"), "address": self._text("address"),
                "plain": self.query_one("#plain", Checkbox).value}

    def check(self, v: dict) -> str | None:
        try:
            check_host_name(v["name"])
        except CnmError as exc:
            return exc.message
        if v["address"]:
            try:
                ipaddress.IPv4Address(v["address"])
            except ValueError:
                return f'invalid address "{v["address"]}"'
        return None

    def perform(self, client, v: dict) -> str:
        client.host_add(v["name"], address=v["address"] or None, plain=v["plain"])
        return f"host {v['name']} joined the underlay"


class ConfirmRemove(FormScreen):
    """Remove the selected object: a container (forced, as `rm -f`), a network, a host, or an endpoint."""

    SUBMIT = "Remove"

    def __init__(self, lab: LabModel | None, selection: Selection):
        super().__init__(lab, selection)
        self.HEADING = f"Remove {selection.kind}"

    def fields(self) -> ComposeResult:
        yield Label("Remove")
        yield Label(self.describe(), id="what")

    def describe(self) -> str:
        sel = self.selection
        if sel.kind == "network":
            net = self.lab.network_by_id(sel.key)
            return f"network {net.name if net else sel.key}"
        if sel.kind == "endpoint":
            return f"the endpoint of {sel.key} on {sel.network} (disconnect)"
        return f"{sel.kind} {sel.key}"

    def on_mount(self) -> None:
        self.query_one("#submit", Button).focus()

    def perform(self, client, v: dict) -> str:
        sel = self.selection
        if sel.kind == "container":
            client.rm(sel.key, force=True)
        elif sel.kind == "network":
            client.network_rm(sel.key)
        elif sel.kind == "host":
            client.host_rm(sel.key)
        else:
            ctr = self.lab.container(sel.key)
            ep = next((e for e in ctr.endpoints if e.network == sel.network), None) if ctr else None
            client.disconnect(ep.network_id if ep else sel.network, sel.key)
        return f"removed {self.describe()}"
