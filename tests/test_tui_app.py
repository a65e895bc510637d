"""The terminal app driven with Pilot against the real engine: every action is a real engine call,
and every assertion reads the engine (or what the engine sent) back."""

import asyncio
import threading
import time

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, RichLog, Select, Static, Tree
from tui_helpers import plain, tree_labels, until

from cnmlab.client import Client
from cnmlab.tui.app import CnmlabApp
from cnmlab.tui.forms import ConfirmRemove, CreateNetworkForm
from cnmlab.tui.guide import GuideStep
from cnmlab.tui.help import HelpScreen
from cnmlab.tui.matrix import network_choices
from cnmlab.tui.picture import draw_cnm

pytestmark = pytest.mark.kernel


def run(scenario, app: CnmlabApp, size=(100, 32)):
    async def main():
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.ready or app.status_text == "no engine", "the app to reach the engine")
            await scenario(pilot, app)

    asyncio.run(main())


async def type_into(pilot, app, widget_id: str, text: str) -> None:
    app.screen.query_one(f"#{widget_id}", Input).focus()
    await pilot.pause()
    await pilot.press(*text)


def network_names(client) -> set[str]:
    return {n["Name"] for n in client.networks()}


def test_starts_on_the_starter_topology(lab):
    async def scenario(pilot, app):
        assert {c["Names"][0] for c in lab.containers()} == {"/container-a", "/container-b"}
        assert app.status_text.startswith("the chapter's starter lab")
        tree = app.screen.query_one(Tree)  # redrawn from the new lab on the next message: wait for it
        await until(pilot, lambda: any(label.startswith("net-b bridge") for label in tree_labels(tree)), "the tree")
        labels = tree_labels(tree)
        assert any(label.startswith("host1 192.168.100.11/24") for label in labels)
        b_eth1 = lab.inspect("container-b")["NetworkSettings"]["Networks"]["net-b"]
        assert any(b_eth1["IPAddress"] in label and b_eth1["MacAddress"] in label for label in labels)
        # The picture: container-b's box holds two endpoint dots; net-a has two plugs, net-b one.
        picture = draw_cnm(app.lab).plain.splitlines()
        bars = {line.split()[0]: line for line in picture if line.startswith("net-")}
        assert bars["net-a"].count("●") == 2 and bars["net-b"].count("●") == 1
        assert picture[1].count("●") == 3  # A: eth0; B: eth0 and eth1
        picture = app.screen.query_one("#picture-top CnmPicture")
        await until(pilot, lambda: "container-a" in plain(picture), "the picture")
        # The event log was listening before the starter was built: it tells the build in order.
        await pilot.press("e")
        await until(pilot, lambda: app.screen.query(RichLog), "the events screen")
        lines = [line.text for line in app.screen.query_one(RichLog).lines]
        text = "".join("".join(lines).split())  # (long lines wrap: compare without whitespace)
        wanted = ["network net-a created", "network net-b created", "sandbox container-a created on host1",
                  "endpoint joined: container-b eth1 172.19.0.2/16 on net-b"]
        where = [text.find("".join(w.split())) for w in wanted]
        assert -1 not in where and where == sorted(where), lines

    run(scenario, CnmlabApp(starter=True))


def test_empty_flag_leaves_the_lab_empty(lab):
    async def scenario(pilot, app):
        assert lab.containers() == [] and app.lab.containers == ()
        picture = app.screen.query_one("#picture-top CnmPicture")
        await until(pilot, lambda: "No sandboxes yet" in plain(picture), "the empty picture")

    run(scenario, CnmlabApp(starter=False))


def test_create_network_form_checks_live_and_shows_engine_errors_inline(lab):
    async def scenario(pilot, app):
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, CreateNetworkForm), "the create-network form")
        await type_into(pilot, app, "name", "net-t")
        await type_into(pilot, app, "subnet", "10.77.0.0/24")
        await type_into(pilot, app, "gateway", "10.99.0.1")
        error = app.screen.query_one("#error", Static)
        assert "not in subnet" in plain(error)  # checked as you type, before any engine call
        app.screen.query_one("#gateway", Input).value = "10.77.0.254"
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, CreateNetworkForm), "the form to close")
        cfg = lab.network_inspect("net-t")["IPAM"]["Config"][0]
        assert cfg == {"Subnet": "10.77.0.0/24", "Gateway": "10.77.0.254"}
        await until(pilot, lambda: any(label.startswith("net-t bridge 10.77.0.0/24")
                                       for label in tree_labels(app.screen.query_one(Tree))), "net-t in the tree")

        # The engine refuses an overlapping pool: the form stays open with the engine's own message.
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, CreateNetworkForm), "the form again")
        await type_into(pilot, app, "name", "net-u")
        await type_into(pilot, app, "subnet", "10.77.0.0/25")
        await pilot.press("enter")
        await until(pilot, lambda: "overlap" in plain(app.screen.query_one("#error")).lower(), "the engine's error")
        assert isinstance(app.screen, CreateNetworkForm)
        assert "net-u" not in network_names(lab)
        await pilot.press("escape")
        assert not isinstance(app.screen, CreateNetworkForm)

    run(scenario, CnmlabApp(starter=False))


def test_run_probe_connect_disconnect_remove_add_host(lab):
    async def scenario(pilot, app):
        lab.network_create("net-t", subnet="10.78.0.0/24")
        await until(pilot, lambda: any(n.name == "net-t" for n in app.lab.networks), "net-t from the events")
        for name in ("c1", "c2"):
            await pilot.press("r")
            await until(pilot, lambda: app.screen.query("#ports"), "the run form")
            await type_into(pilot, app, "name", name)
            app.screen.query_one("#network", Select).value = "net-t"
            await type_into(pilot, app, "alias", f"web-{name}")
            await pilot.press("enter")
            await until(pilot, lambda name=name: app.lab.container(name) is not None, f"{name} running")
        c1 = lab.inspect("c1")["NetworkSettings"]["Networks"]["net-t"]
        assert c1["IPAddress"] == "10.78.0.2" and "web-c1" in c1["Aliases"]

        # Probe c1 -> c2 on the shared network: the engine says reachable, and the screen shows it.
        await pilot.press("p")
        await until(pilot, lambda: app.screen.query("#probe-result"), "the probe screen")
        app.screen.query_one("#src", Select).value = "c1"
        app.screen.query_one("#dst", Input).value = "c2"
        app.screen.query_one("#proto", Select).value = "tcp"
        await pilot.click("#send")  # the mouse works too
        result = app.screen.query_one("#probe-result", Static)
        await until(pilot, lambda: "reachable" in plain(result), "the probe result")
        assert "c1 (10.78.0.2) → c2 (10.78.0.3) tcp:80" in plain(result)
        assert "why:" in plain(result)

        # Connect c1 to the default bridge, then disconnect it.
        await pilot.press("h")
        bridge_id = next(n.id for n in app.lab.networks if n.name == "bridge")
        await pilot.press("c")
        await until(pilot, lambda: app.screen.query("#container"), "the connect form")
        app.screen.query_one("#container", Select).value = "c1"
        app.screen.query_one("#network", Select).value = bridge_id
        app.screen.query_one("#submit").press()
        await until(pilot, lambda: "bridge" in lab.inspect("c1")["NetworkSettings"]["Networks"], "c1 on bridge")
        await until(pilot, lambda: len(app.lab.container("c1").endpoints) == 2, "the new endpoint in the app")
        await pilot.press("d")
        await until(pilot, lambda: app.screen.query("#endpoint"), "the disconnect form")
        app.screen.query_one("#endpoint", Select).value = f"c1\t{bridge_id}"
        app.screen.query_one("#submit").press()
        await until(pilot, lambda: "bridge" not in lab.inspect("c1")["NetworkSettings"]["Networks"], "c1 off bridge")
        await until(pilot, lambda: app.screen.query(Tree), "the form to close")

        # Remove c2: select it in the tree, x, confirm.
        await select_in_tree(pilot, app, app.screen.query_one(Tree), "container", "c2")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmRemove), "the confirmation")
        await pilot.press("enter")
        await until(pilot, lambda: app.lab.container("c2") is None, "c2 gone from the app")
        assert [c["Names"][0] for c in lab.containers()] == ["/c1"]

        # Add a host on the underlay.
        await pilot.press("a")
        await until(pilot, lambda: app.screen.query("#plain"), "the add-host form")
        app.screen.query_one("#submit").press()
        await until(pilot, lambda: any(h.name == "host2" for h in app.lab.hosts), "host2 in the app", timeout=30)
        assert any(h["Name"] == "host2" and h["Address"] == "192.168.100.12/24" for h in lab.hosts())

    run(scenario, CnmlabApp(starter=False))


async def select_in_tree(pilot, app, tree, kind, key, timeout=20.0):
    """Move the tree's cursor onto an object, as a user would (again, if a redraw came in between)."""
    deadline = time.monotonic() + timeout
    while not (app.selection and app.selection.kind == kind and app.selection.key == key):
        assert time.monotonic() < deadline, f"could not select {kind} {key}"
        node = _node(tree, kind, key)
        if node is not None:
            tree.move_cursor(node)
        await pilot.pause(0.1)


def _node(tree, kind, key):
    found = []

    def walk(node):
        for child in node.children:
            if child.data is not None and child.data.kind == kind and child.data.key == key:
                found.append(child)
            walk(child)

    walk(tree.root)
    return found[0] if found else None


def test_engine_refusal_is_shown_and_the_app_goes_on(lab):
    async def scenario(pilot, app):
        tree = app.screen.query_one(Tree)
        bridge = next(n for n in app.lab.networks if n.name == "bridge")
        await until(pilot, lambda: _node(tree, "network", bridge.id) is not None, "bridge in the tree")
        await select_in_tree(pilot, app, tree, "network", bridge.id)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmRemove), "the confirmation")
        await pilot.press("enter")
        await until(pilot, lambda: plain(app.screen.query_one("#error")), "the engine's refusal")
        assert "pre-defined" in plain(app.screen.query_one("#error"))
        assert "bridge" in network_names(lab)
        await pilot.press("escape")
        await pilot.press("p")  # the app still answers
        await until(pilot, lambda: app.screen.query("#probe-result"), "the probe screen")

    run(scenario, CnmlabApp(starter=False))


async def probe_to(pilot, app, dst: str, proto: str = "icmp") -> str:
    """Type DST into the destination field, send with enter, and return the result pane's text."""
    result = app.screen.query_one("#probe-result", Static)
    result.update("")
    app.screen.query_one("#proto", Select).value = proto
    app.screen.query_one("#dst", Input).value = ""
    await type_into(pilot, app, "dst", dst)
    await pilot.press("enter")
    await until(pilot, lambda: plain(result) and not result.loading, f"the probe to {dst}")
    return plain(result)


def test_probe_destination_is_an_ip_a_published_port_or_an_error(lab):
    async def scenario(pilot, app):
        lab.host_add("host2")
        lab.run("web", network="net-a", ports=["8080:80"])
        lab.run("far", host="host2")
        await until(pilot, lambda: app.lab.container("far") is not None, "far in the app")
        await pilot.press("p")
        await until(pilot, lambda: app.screen.query("#probe-result"), "the probe screen")
        app.screen.query_one("#src", Select).value = "container-a"
        # The lab's names and addresses are suggested and can be stepped through with the arrows.
        web_ip = lab.inspect("web")["NetworkSettings"]["Networks"]["net-a"]["IPAddress"]
        dst = app.screen.query_one("#dst", Input)
        dst.value = ""
        await type_into(pilot, app, "dst", "we")
        await until(pilot, lambda: dst._suggestion == "web", "the suggestion web")
        await pilot.press("right")
        assert dst.value == "web"
        await pilot.press("down")
        assert dst.value != "web"

        # An IP address: web's address on net-a, which container-a shares.
        text = await probe_to(pilot, app, web_ip)
        assert text.startswith("reachable") and "container-a (" in text and f"→ {web_ip} ({web_ip})" in text

        # HOST:PORT from another host: the published port answers (TCP, the port from the binding).
        app.screen.query_one("#src", Select).value = "far"
        text = await probe_to(pilot, app, "host1:8080")
        assert text.startswith("reachable"), text
        assert "→ host1:8080 (192.168.100.11) tcp:8080" in text
        assert app.screen.query_one("#port", Input).value == ""  # the port field does not apply
        engine = lab.probe("far", "host1:8080")
        assert engine["outcome"] == "reachable" and engine["port"] == 8080

        # Bad destinations: the engine's one line, inline, never a traceback.
        text = await probe_to(pilot, app, "nosuchbox")
        assert "probe failed: No such container, alias, host or address: nosuchbox" in text
        text = await probe_to(pilot, app, "host9:8080")
        assert "No such host: host9" in text
        text = await probe_to(pilot, app, "host1:99999")
        assert "invalid port 99999" in text
        assert "Traceback" not in text and not [n for n in app._notifications if n.severity == "error"]

        # Swap ends: a container destination becomes the source; an address cannot, and says so.
        app.screen.query_one("#dst", Input).value = "container-b"
        app.screen.query_one("#src", Select).focus()
        await pilot.press("w")
        assert app.screen.query_one("#src", Select).value == "container-b"
        assert app.screen.query_one("#dst", Input).value == "far"
        app.screen.query_one("#dst", Input).value = web_ip
        await pilot.press("w")
        assert f"cannot swap: {web_ip} is not a container" in plain(app.screen.query_one("#probe-result"))

    run(scenario, CnmlabApp(starter=True))


def test_no_engine_is_a_notification_not_a_traceback(tmp_path):
    async def scenario(pilot, app):
        assert app.status_text == "no engine"
        await until(pilot, lambda: any("the engine is not available" in n.message for n in app._notifications),
                    "the notification")
        assert "Traceback" not in "".join(n.message for n in app._notifications)
        await pilot.press("?")  # the app keeps working
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")

    client = Client(tmp_path / "nothing-here.sock", autostart=False)
    run(scenario, CnmlabApp(starter=True, client=client))


def test_a_change_from_another_client_appears_at_once(lab):
    async def scenario(pilot, app):
        await pilot.press("e")
        log = app.screen.query_one(RichLog)
        worker = threading.Thread(target=lambda: Client().network_create("net-other"))
        worker.start()
        await until(pilot, lambda: any("network net-other created" in line.text for line in log.lines),
                    "the event in the log")
        worker.join()
        await until(pilot, lambda: any(n.name == "net-other" for n in app.lab.networks), "net-other in the model")
        await pilot.press("h")
        await until(pilot, lambda: any(label.startswith("net-other") for label in
                                       tree_labels(app.screen.query_one(Tree))), "net-other in the tree")

    run(scenario, CnmlabApp(starter=False))


def test_matrix_grid_rerun_and_explain(lab):
    async def scenario(pilot, app):
        await pilot.press("m")
        await until(pilot, lambda: app.screen.query("#grid") and app.screen.query_one("#grid").row_count == 2,
                    "the first matrix")
        lab.run("container-c", network="net-b")
        await until(pilot, lambda: app.lab.container("container-c") is not None, "container-c in the app")
        await pilot.press("r")
        grid = app.screen.query_one("#grid")
        await until(pilot, lambda: grid.row_count == 3, "the re-run matrix")
        # Rows: the containers; columns: their endpoints. A -> C crosses networks: filtered, and so
        # does A -> B's net-b endpoint (the chapter's own example), while A -> B on net-a is ok.
        assert [str(c.label) for c in grid.columns.values()][1:] == [
            "container-a@net-a", "container-b@net-a", "container-b@net-b", "container-c@net-b"]
        assert plain_cell(grid, 0, 4) == "▨ filtered" and plain_cell(grid, 0, 3) == "▨ filtered"
        assert plain_cell(grid, 0, 2) == "✔ ok" and plain_cell(grid, 1, 4) == "✔ ok"
        grid.move_cursor(row=0, column=3)
        await pilot.pause()
        detail = plain(app.screen.query_one("#cell-detail"))
        assert "container-a → container-b@net-b" in detail and "DOCKER-ISOLATION-STAGE-2" in detail
        engine = lab.matrix("icmp")
        cell = next(c for c in engine["cells"] if c["from"] == "container-a" and c["to"] == "container-c@net-b")
        assert cell["outcome"] == "filtered"

    run(scenario, CnmlabApp(starter=True))


def test_matrix_filtered_to_one_network(lab):
    async def scenario(pilot, app):
        lab.run("container-c", network="net-b")
        await until(pilot, lambda: app.lab.container("container-c") is not None, "container-c in the app")
        await pilot.press("m")
        grid = app.screen.query_one("#grid")
        await until(pilot, lambda: grid.row_count == 3 and not grid.loading, "the whole matrix")
        net_b = next(n for n in app.lab.networks if n.name == "net-b")
        # f steps the filter through the networks with sandboxes (the footer shows the key).
        choices = [label for label, _ in network_choices(app.lab)]
        while app.screen.network != net_b.id:
            await pilot.press("f")
        await until(pilot, lambda: app.screen.result and app.screen.result.get("network") == net_b.id
                    and not grid.loading, "the net-b matrix")
        assert "net-a" in choices and "net-b" in choices
        # Every container still sends; the columns are net-b's endpoints.
        assert app.screen.result["containers"] == ["container-a", "container-b", "container-c"]
        assert grid.row_count == 3 and [str(c.label) for c in grid.columns.values()][1:] == [
            "container-b@net-b", "container-c@net-b"]
        assert plain_cell(grid, 1, 2) == "✔ ok" and plain_cell(grid, 0, 1) == "▨ filtered"
        assert app.screen.title == "cnmlab · matrix on net-b" and "net-b" in grid.border_title
        assert app.screen.active_bindings["f"].binding.show  # the footer lists it
        engine = lab.matrix("icmp", network="net-b")
        assert [c["name"] for c in engine["columns"]] == ["container-b@net-b", "container-c@net-b"]
        # f past the last network goes back to all of them.
        while app.screen.network is not None:
            await pilot.press("f")
        await until(pilot, lambda: len(grid.columns) == 5 and not grid.loading, "the whole matrix again")
        assert app.screen.title is None

    run(scenario, CnmlabApp(starter=True))


def plain_cell(grid, row, column) -> str:
    value = grid.get_cell_at((row, column))
    return getattr(value, "plain", str(value))


def test_help_and_command_palette(lab):
    async def scenario(pilot, app):
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the command palette")
        await pilot.press(*"create net")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CreateNetworkForm), "the form from the palette")

    run(scenario, CnmlabApp(starter=False))


def test_lab_guide_pane_api(lab):
    def net_g_exists(client):
        return "net-g" in network_names(client), "looking for net-g"

    async def scenario(pilot, app):
        guide = app.set_lab_guide([GuideStep("Create net-g", "cnmlab network create net-g", check=net_g_exists),
                                   "Run a container on it"], title="Lab 0")
        await pilot.pause()
        assert guide.display and "Lab 0 · step 1/2" in guide.border_title
        guide.run_check()
        await until(pilot, lambda: guide.passed is False, "the failing check")
        assert "check fails" in plain(guide.query_one("#guide-status"))
        lab.network_create("net-g")
        guide.run_check()
        await until(pilot, lambda: guide.passed is True, "the passing check")
        assert "check passes" in plain(guide.query_one("#guide-status"))
        guide.show_step(1)
        await pilot.pause()
        assert "step 2/2" in guide.border_title and "Run a container" in plain(guide.query_one("#guide-step"))

    run(scenario, CnmlabApp(starter=False))


async def trace_from_probe_screen(pilot, app, src: str, dst: str, proto: str):
    await pilot.press("p")
    await until(pilot, lambda: app.screen.query("#trace-view"), "the probe screen")
    await until(pilot, lambda: src in [o[1] for o in app.screen.query_one("#src", Select)._options], f"{src} listed")
    app.screen.query_one("#src", Select).value = src
    app.screen.query_one("#dst", Input).value = dst
    app.screen.query_one("#proto", Select).value = proto
    app.screen.query_one("#src", Select).focus()
    await pilot.press("t")
    view = app.screen.query_one("#trace-view")
    await until(pilot, lambda: view.trace is not None, "the trace", timeout=30)
    return view


def test_trace_lights_hops_in_order_and_marks_the_drop_at_the_rule(lab):
    async def scenario(pilot, app):
        lab.run("container-c", network="net-b")
        await until(pilot, lambda: app.lab.container("container-c") is not None, "container-c in the app")
        view = await trace_from_probe_screen(pilot, app, "container-a", "container-c", "tcp")
        trace = view.trace
        assert trace["verdict"] == "dropped" and trace["rule"]["chain"] == "DOCKER-ISOLATION-STAGE-2"
        summary = plain(app.screen.query_one("#probe-result"))
        assert "trace: dropped" in summary and "DOCKER-ISOLATION-STAGE-2" in summary
        hops_text = app.screen.query_one("#trace-hops")
        # The hops light up one after another; the drop line appears only once its hop is reached.
        await until(pilot, lambda: view.step == view.hop_count - 1, "the play-through to finish")
        lines = plain(hops_text).splitlines()
        drop = next(i for i, line in enumerate(lines) if "✘ dropped here by filter/DOCKER-ISOLATION-STAGE-2" in line)
        assert lines[drop - 1].split()[0 if not lines[drop - 1].startswith("▶") else 1] == str(trace["dropped_after"])
        assert "in host1" in lines[drop] and trace["rule"]["rule"] in lines[drop]
        # Step with the keys: from nothing lit to the first hop, then on to the drop.
        view.focus()
        await pilot.press("home")
        assert "▶" not in plain(hops_text) and "dropped here" not in plain(hops_text)
        await pilot.press("right")
        first = plain(hops_text).splitlines()[0]
        assert first.startswith("▶  1 → container-a:eth0")
        for _ in range(trace["dropped_after"] - 2):
            await pilot.press("right")
        assert "dropped here" not in plain(hops_text)
        await pilot.press("right")
        assert "dropped here" in plain(hops_text)
        await pilot.press("left")
        assert "dropped here" not in plain(hops_text)

    run(scenario, CnmlabApp(starter=True))


def test_trace_over_an_overlay_shows_the_vxlan_outer_header(lab):
    async def scenario(pilot, app):
        lab.host_add("host2")
        lab.network_create("ov1", driver="overlay")
        lab.run("c1", network="ov1", host="host1")
        lab.run("c2", network="ov1", host="host2")
        await until(pilot, lambda: app.lab.container("c2") is not None, "c2 in the app")
        view = await trace_from_probe_screen(pilot, app, "c1", "c2", "icmp")
        underlay = [h for h in view.trace["hops"] if h["outer"]]
        assert underlay, view.trace["hops"]
        view.focus()
        await pilot.press("end")
        text = plain(app.screen.query_one("#trace-hops"))
        vni = underlay[0]["outer"]["vni"]
        assert f"VXLAN outer 192.168.100.11 → 192.168.100.12 udp/4789 vni {vni}" in text
        # In the tree, the global network shows under both hosts, each with its own endpoint.
        await pilot.press("h")
        labels = tree_labels(app.screen.query_one(Tree))
        assert sum(label.startswith("ov1 overlay") for label in labels) == 2

    run(scenario, CnmlabApp(starter=False))
