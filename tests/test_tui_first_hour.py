"""The terminal app as a first-time user meets it: every key the footer shows does what it says,
whatever has focus; text fields never swallow the screen's keys unasked; the CNM picture keeps
each network's driver and subnet. (120x36 and 200x50 are in the snapshots, test_tui_snapshots.py.)"""

import asyncio

import pytest
from textual.widgets import Button, DataTable, Input, Select, Static
from textual.widgets._footer import FooterKey
from tui_helpers import build_fixed_topology, plain, until

from cnmlab.tui.app import CnmlabApp
from cnmlab.tui.events_log import EventsScreen
from cnmlab.tui.forms import ConfirmRemove, ConnectForm, CreateNetworkForm, DisconnectForm, RunContainerForm
from cnmlab.tui.help import HelpScreen
from cnmlab.tui.topology import CnmPicture

pytestmark = pytest.mark.kernel

# What each topology footer key must open (a dialog, or another screen).
OPENS = {"Network": CreateNetworkForm, "Run": RunContainerForm, "Connect": ConnectForm,
         "Disconnect": DisconnectForm, "Remove": ConfirmRemove, "Help": HelpScreen}
MODES = {"Probe": "probe", "Matrix": "matrix", "Events": "events", "Home": "topology"}


@pytest.fixture(scope="module")
def fixed_lab(engine):
    engine.reset()
    build_fixed_topology(engine)  # three sandboxes on net-a and net-b
    return engine


def run(scenario, size):
    app = CnmlabApp(starter=False)

    async def main():
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.ready, "the app to load the lab")
            await scenario(pilot, app)

    asyncio.run(main())


def footer(app) -> list[FooterKey]:
    return list(app.screen.query(FooterKey))


def descriptions(app) -> list[str]:
    return [key.description for key in footer(app)]


async def settle(pilot) -> None:
    await pilot.pause(0.1)


async def whole_footer_and_labelled_picture(pilot, app, size) -> None:
    await until(pilot, lambda: footer(app) and all(k.region.width for k in footer(app)), "the footer")
    keys = footer(app)
    assert [k.description for k in keys] == ["Network", "Run", "Connect", "Disconnect", "Remove", "Probe",
                                             "Matrix", "Events", "Help"]
    for key in keys:  # the whole footer is on the screen: nothing cut off ("Disconn")
        assert key.region.right <= size[0], (key.description, key.region)
    # The CNM picture names each network's driver and subnet (beside the bars, or under them).
    (picture,) = [p for p in app.screen.query(CnmPicture) if p.parent.display]
    await until(pilot, lambda: "container-c" in plain(picture), "the picture")
    shown = plain(picture)
    assert "bridge 172.18.0.0/16" in shown and "bridge 172.19.0.0/16" in shown, shown


def test_every_footer_key_does_what_it_says(fixed_lab):
    """At the smallest size, every key of the home screen's footer, and back."""
    size = (80, 24)

    async def scenario(pilot, app):
        await whole_footer_and_labelled_picture(pilot, app, size)
        for description in descriptions(app):
            key = next(k for k in footer(app) if k.description == description).key
            await pilot.press(key)
            if description in OPENS:
                await until(pilot, lambda: isinstance(app.screen, OPENS[description]), f"{key} to open {description}")
                await pilot.press("escape")
                await until(pilot, lambda: app.current_mode == "topology" and not app.screen.is_modal,
                            f"escape to close {description}")
            else:
                await until(pilot, lambda: app.current_mode == MODES[description], f"{key} to show {description}")
                await until(pilot, lambda: footer(app) and all(k.region.width for k in footer(app)), "its footer")
                for other in footer(app):  # that screen's footer is whole too
                    assert other.region.right <= size[0], (other.description, other.region)
                if description == "Matrix":
                    await matrix_port_field_gives_its_keys_back(pilot, app)
                await pilot.press("h")
                await until(pilot, lambda: app.current_mode == "topology", "h to come home")
            await settle(pilot)

    run(scenario, size)


def test_probe_keys_work_whatever_has_focus(fixed_lab):
    async def scenario(pilot, app):
        await pilot.press("p")
        await until(pilot, lambda: app.screen.query("#probe-result"), "the probe screen")
        screen = app.screen
        dst, result = screen.query_one("#dst", Input), screen.query_one("#probe-result", Static)
        assert not isinstance(screen.focused, Input), "the screen opens on the source, not in a field"
        dst.value = "container-b"
        await pilot.press("t")
        await until(pilot, lambda: "trace" in plain(result) or "replied" in plain(result), "t to trace")
        assert dst.value == "container-b"
        # In the field: letters are text, the footer shows what still acts, escape leaves the field.
        await pilot.click("#dst")
        assert screen.focused is dst
        await settle(pilot)
        assert descriptions(app)[:3] == ["Send", "Leave field", "Trace"] or \
            {"Send", "Trace", "Leave field"} <= set(descriptions(app)), descriptions(app)
        await pilot.press("end", "x")
        assert dst.value == "container-bx"
        await pilot.press("backspace", "escape")
        assert app.current_mode == "probe" and screen.focused is screen.query_one("#send", Button)
        assert "Swap ends" in descriptions(app)
        await pilot.press("w")
        await until(pilot, lambda: screen.query_one("#src", Select).value == "container-b", "w to swap")
        await pilot.press("w")  # and back
        # Leave with the cursor in the field, come back: the screen's keys work at once.
        await pilot.click("#dst")
        await pilot.press("h")
        assert "h" in dst.value and app.current_mode == "probe"  # in the field, h is text
        dst.value = "container-b"
        await pilot.press("escape", "escape")
        await until(pilot, lambda: app.current_mode == "topology", "escape (outside the field) to go home")
        await pilot.press("p")
        await until(pilot, lambda: app.current_mode == "probe", "p")
        await settle(pilot)
        assert not isinstance(app.screen.focused, Input)
        result.update("")
        await pilot.press("s")
        await until(pilot, lambda: "reachable" in plain(result), "s to send")
        assert dst.value == "container-b", "s was not typed into the destination (\"cc\" became \"cct\")"
        await pilot.click("#dst")
        await pilot.press("ctrl+t")  # trace from inside the field
        await until(pilot, lambda: "replied" in plain(result), "ctrl+t to trace")

    run(scenario, (120, 36))


async def matrix_port_field_gives_its_keys_back(pilot, app) -> None:
    await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 3, "the matrix")
    await pilot.click("#m-port")
    await pilot.press("escape")
    assert app.current_mode == "matrix" and app.screen.focused is app.screen.query_one(DataTable)
    await pilot.press("f")
    await until(pilot, lambda: app.screen.query_one("#m-net", Select).value != Select.NULL, "f to filter")
