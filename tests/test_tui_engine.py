"""The app and the engine's life: it says what it does while the engine starts, and it follows the
engine through a restart (a private engine, so the session's own lab is untouched)."""

import asyncio

import pytest
from tui_helpers import until

from cnmlab.client import Client
from cnmlab.tui.app import CnmlabApp

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def test_start_message_and_reconnect_after_an_engine_restart(tmp_path, monkeypatch):
    monkeypatch.setenv("CNMLAB_STATE_DIR", str(tmp_path / "state"))  # the new engine's own store
    client = Client(tmp_path / "run" / "engine.sock")
    assert not client.running()
    app = CnmlabApp(starter=True, client=client)

    async def main():
        async with app.run_test(size=(100, 32)) as pilot:
            seen = []
            while not app.ready:
                if app.status_text not in seen:
                    seen.append(app.status_text)
                assert app.status_text != "no engine"
                await pilot.pause(0.02)
            assert "starting the engine: building its private lab world…" in seen, seen
            assert app.lab.container("container-b") is not None

            await asyncio.to_thread(client.stop_engine)
            await until(pilot, lambda: any("lost the engine's event stream" in n.message
                                           for n in app._notifications), "the lost-stream warning")
            await asyncio.to_thread(client.status)  # starts the engine again: it restores the lab
            await until(pilot, lambda: any("reconnected" in n.message for n in app._notifications),
                        "the reconnection", timeout=60)
            await until(pilot, lambda: app.lab.container("container-b") is not None, "the restored lab")

    try:
        asyncio.run(main())
    finally:
        client.stop_engine()
