"""`AsyncClient`: the engine's API as coroutines, for the TUI and notebooks (asyncio lives here,
not in cnmlab.client, so that plain CLI commands never import it)."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

from .client import Client, event_types


class AsyncClient:
    """The same calls as `Client`, as coroutines (each runs the blocking call in a thread)."""

    def __init__(self, socket_path: str | Path | None = None, autostart: bool = True):
        self.sync = Client(socket_path, autostart)

    def __getattr__(self, name: str):
        target = getattr(self.sync, name)
        if not callable(target) or name == "events":
            return target

        @functools.wraps(target)
        async def call(*args, **kwargs):
            return await asyncio.to_thread(target, *args, **kwargs)

        return call

    async def events(self, on_open=None):
        """Engine events as an async iterator; `on_open()` is called once the engine has subscribed us."""
        reader, writer = await asyncio.open_unix_connection(self.sync.socket_path)
        try:
            writer.write(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            await writer.drain()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            decode = event_types().from_json
            if on_open is not None:
                on_open()
            while line := await reader.readline():
                if line.strip():
                    yield decode(json.loads(line))
        finally:
            writer.close()
