"""The terminal app served to web browsers (textual-serve): one app process per browser session.

textual-serve writes its own address into the page for the browser's websocket; behind
`--host 0.0.0.0` that address means nothing to a browser, so the page uses the address the
browser itself asked for.
"""

from __future__ import annotations

from textual_serve.server import Server


class LabServer(Server):
    def __init__(self, command: str, host: str, port: int):
        super().__init__(command, host=host, port=port, title="cnmlab")
        self.listen_url = self.public_url

    async def on_startup(self, app) -> None:
        self.console.print(f"cnmlab in a browser: {self.listen_url}  (one app per tab; Ctrl+C stops)")

    async def handle_index(self, request):
        # the page's URLs are built from public_url without an await in between: no other request interleaves
        self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)
