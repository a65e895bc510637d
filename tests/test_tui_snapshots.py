"""Snapshots of the main screens on a fixed topology from the real engine (fixed subnets and
bridge names, so names, addresses, MACs and rule texts repeat exactly). Update them after a
deliberate change with `./test.sh tests/test_tui_snapshots.py --snapshot-update` and look at the SVGs."""

import pytest
from textual.widgets import DataTable, Input, Select, Static
from textual.widgets._footer import FooterKey
from tui_helpers import build_fixed_topology, plain, until

from cnmlab.tui.app import CnmlabApp
from cnmlab.tui.topology import InspectPane

pytestmark = pytest.mark.kernel


@pytest.fixture
def fixed_lab(lab):
    build_fixed_topology(lab)
    return lab


async def ready(pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: app.ready, "the app to load the lab")
    await until(pilot, lambda: app.screen.query_one(InspectPane).border_title == "host host1", "host1's inspect")
    await pilot.pause(0.2)


def test_topology_at_80x24(fixed_lab, snap_compare):
    assert snap_compare(CnmlabApp(starter=False), terminal_size=(80, 24), run_before=ready)


def test_topology_at_120x36(fixed_lab, snap_compare):
    """Three sandboxes at 120 columns: the picture keeps each network's driver and subnet."""
    assert snap_compare(CnmlabApp(starter=False), terminal_size=(120, 36), run_before=ready)


def test_create_network_form_with_a_live_error(fixed_lab, snap_compare):
    async def form(pilot):
        await ready(pilot)
        await pilot.press("n", *"net-c", "tab", "tab", *"10.10.0.1/24")
        await until(pilot, lambda: "host bits are set; use 10.10.0.0/24" in plain(pilot.app.screen.query_one("#error")), "the live check")

    assert snap_compare(CnmlabApp(starter=False), terminal_size=(80, 24), run_before=form)


def test_help(fixed_lab, snap_compare):
    async def help_screen(pilot):
        await ready(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: pilot.app.screen.query("#help"), "help")

    assert snap_compare(CnmlabApp(starter=False), terminal_size=(80, 24), run_before=help_screen)


def test_probe_filtered_with_its_rule(fixed_lab, snap_compare):
    async def probe(pilot):
        await ready(pilot)
        app = pilot.app
        await pilot.press("p")
        await until(pilot, lambda: app.screen.query("#probe-result"), "the probe screen")
        app.screen.query_one("#src", Select).value = "container-a"
        app.screen.query_one("#dst", Input).value = "container-c"
        app.screen.query_one("#src", Select).focus()
        await pilot.press("s")
        await until(pilot, lambda: "filtered" in plain(app.screen.query_one("#probe-result", Static)), "the result")

    assert snap_compare(CnmlabApp(starter=False), terminal_size=(80, 24), run_before=probe)


def test_matrix_explaining_a_filtered_cell(fixed_lab, snap_compare):
    async def matrix(pilot):
        await ready(pilot)
        app = pilot.app
        await pilot.press("m")
        await until(pilot, lambda: app.screen.query("#grid") and app.screen.query_one(DataTable).row_count == 3,
                    "the matrix")
        app.screen.query_one(DataTable).move_cursor(row=0, column=3)
        await until(pilot, lambda: "container-a → container-b@net-b" in plain(app.screen.query_one("#cell-detail")),
                    "the explanation")

    assert snap_compare(CnmlabApp(starter=False), terminal_size=(80, 24), run_before=matrix)


def test_matrix_filtered_to_one_network(fixed_lab, snap_compare):
    async def matrix(pilot):
        await ready(pilot)
        app = pilot.app
        await pilot.press("m")
        await until(pilot, lambda: app.screen.query("#grid") and app.screen.query_one(DataTable).row_count == 3,
                    "the matrix")
        await pilot.press("f", "f")  # all networks → net-a → net-b
        await until(pilot, lambda: app.screen.result and app.screen.result.get("network")
                    and not app.screen.query_one(DataTable).loading, "the net-b matrix")
        await pilot.pause(0.2)

    assert snap_compare(CnmlabApp(starter=False), terminal_size=(80, 24), run_before=matrix)


def test_topology_at_200x50(fixed_lab, snap_compare):
    assert snap_compare(CnmlabApp(starter=False), terminal_size=(200, 50), run_before=ready)


def test_probe_with_the_cursor_in_the_destination(fixed_lab, snap_compare):
    """In the field the footer shows what still acts there (enter, ctrl+t, escape)."""
    async def in_field(pilot):
        await ready(pilot)
        app = pilot.app
        await pilot.press("p")
        await until(pilot, lambda: app.screen.query("#probe-result"), "the probe screen")
        await pilot.click("#dst")
        await until(pilot, lambda: "Leave field" in [k.description for k in app.screen.query(FooterKey)],
                    "the field's keys")
        await pilot.pause(0.2)

    assert snap_compare(CnmlabApp(starter=False), terminal_size=(80, 24), run_before=in_field)
