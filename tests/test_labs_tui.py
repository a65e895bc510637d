"""The TUI plays a guided lab through Pilot: the lab pane shows the step, enter checks it (a
failure with its hint), s applies the "show me" solution, →/← move, R resets the lab."""

import asyncio

import pytest
from tui_helpers import plain, until

from cnmlab.labs import find, runner
from cnmlab.tui.guided_lab import GuidedApp

pytestmark = pytest.mark.kernel


def test_tui_plays_lab_1(lab):
    spec = find(1)
    runner.start(lab, spec)
    app = GuidedApp(spec, client=lab)

    async def scenario(pilot):
        await until(pilot, lambda: app.ready, "the app to reach the engine")
        guide = app.guide
        await until(pilot, lambda: guide.steps, "the lab in the pane")
        status = guide.query_one("#guide-status")
        assert "Lab 1: CNM building blocks" in guide.border_title and "step 1/5" in guide.border_title
        assert "Two networks, two containers" in plain(guide.query_one("#guide-step"))
        await until(pilot, lambda: app.focused is guide, "the pane to take the keys")

        await pilot.press("enter")
        await until(pilot, lambda: guide.passed is False, "the failing check")
        assert "hint: try `cnmlab network create net-a`" in plain(status)

        await pilot.press("s")
        await until(pilot, lambda: "show me:" in guide.detail, "the solution")
        assert "$ cnmlab network connect net-b container-b" in plain(status)
        assert {c["Names"][0] for c in lab.containers()} == {"/container-a", "/container-b"}

        await pilot.press("enter")
        await until(pilot, lambda: guide.passed is True, "the passing check")
        assert "✔ container-b is on net-b" in plain(status)

        await pilot.press("right", "right")
        assert "step 3/5" in guide.border_title and guide.passed is None
        await pilot.press("enter")
        await until(pilot, lambda: guide.passed is True, "step 3 checks (A reaches B)")
        await pilot.press("left")
        assert "step 2/5" in guide.border_title

        await pilot.press("R")
        await until(pilot, lambda: "set up again" in guide.detail, "the reset")
        assert "step 1/5" in guide.border_title and lab.containers() == []

    async def main():
        async with app.run_test(size=(110, 40)) as pilot:
            await scenario(pilot)

    asyncio.run(main())


def test_tui_plays_a_troubleshooting_lab_with_escalating_hints(lab):
    """Lab 8 starts broken: the pane shows the symptom, h reveals one more hint each time, enter
    grades the live lab (failing until the fix, passing after it)."""
    spec = find(8)
    runner.start(lab, spec)
    app = GuidedApp(spec, client=lab)

    async def scenario(pilot):
        await until(pilot, lambda: app.ready and app.guide.steps, "the lab in the pane")
        guide = app.guide
        await until(pilot, lambda: app.focused is guide, "the pane to take the keys")
        text = guide.query_one("#guide-step")
        assert "Symptom: `web` cannot reach `db`" in plain(text) and "hint 1/3" not in plain(text)
        await pilot.press("h")
        assert "hint 1/3" in plain(text) and "hint 2/3" not in plain(text)
        await pilot.press("h", "h", "h")
        assert "hint 3/3" in plain(text) and "share no network" in plain(text)
        await pilot.press("enter")
        await until(pilot, lambda: guide.passed is False, "the broken lab's check")
        lab.connect("back", "web")  # the learner's fix, typed elsewhere
        await pilot.press("enter")
        await until(pilot, lambda: guide.passed is True, "the fixed lab's check")

    async def main():
        async with app.run_test(size=(110, 40)) as pilot:
            await scenario(pilot)

    asyncio.run(main())
