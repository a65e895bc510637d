"""The reader path: `ps`, `network ls`, `inspect` and `host ls` answer while the kernel thread
waits on a plugin.

Reads run on the kernel thread like everything else, so they see the lab exactly as the last
finished change left it. But a remote plugin that does not answer would hold them for its whole
timeout. So when the kernel thread starts a plugin call it first takes a snapshot of what the read
routes would answer (it is the only thread that changes the lab, and it is between two steps), and
a read that finds the kernel thread waiting on a plugin is answered from that snapshot instead.
"""

from __future__ import annotations

import threading
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from .. import inspect, plugins

POLL = 0.01  # seconds between "is the kernel thread waiting on a plugin?" looks, while a read waits
MISSING = object()


class Readers:
    def __init__(self, engine):
        self.engine = engine
        self.snapshot: dict[str, Any] | None = None
        self.waiting = False  # the kernel thread is inside a plugin call
        plugins.WAITING.append(self._plugin_wait)

    def _plugin_wait(self, waiting: bool) -> None:
        if not threading.current_thread().name.startswith("kernel"):
            return  # a plugin call made for a request's own thread holds nobody else
        if waiting:
            self.snapshot = self._take()
        self.waiting = waiting

    def _take(self) -> dict[str, Any]:
        """The read routes' answers, now. A half-made object (the plugin call is part of making it)
        is left out rather than failing the whole snapshot."""
        ctl = self.engine.controller
        snap: dict[str, Any] = {"networks": [], "containers": [], "summaries": [], "hosts": []}
        for net in list(ctl.networks.values()):
            _add(snap["networks"], inspect.network, ctl, net)
        for c in list(ctl.containers.values()):
            _add(snap["summaries"], inspect.container_summary, ctl, c)
            _add(snap["containers"], inspect.container, ctl, c)
        for name in list(ctl.hosts):
            _add(snap["hosts"], inspect.host, ctl, name)
        return snap

    def call(self, route, req):
        """Run a read route on the kernel thread; answer from the snapshot if a plugin holds it."""
        future = self.engine.kernel.submit(route.handler, req)
        while True:
            try:
                return future.result(timeout=POLL)
            except FutureTimeout:
                if self.waiting and self.snapshot is not None:
                    found = self.answer(route.template, req)
                    if found is not MISSING:
                        future.cancel()
                        return found

    def answer(self, template: str, req) -> Any:
        snap = self.snapshot
        ref = next(iter(req.params.values()), None)
        if template == "/networks":
            return snap["networks"]
        if template == "/containers/json":
            return snap["summaries"]
        if template == "/hosts":
            return snap["hosts"]
        if template in ("/containers/{id}/json", "/containers/{id}"):
            return _find(snap["containers"], ref, lambda c: c["Name"].lstrip("/"))
        if template == "/networks/{id}" and not req.query:
            return _find(snap["networks"], ref, lambda n: n["Name"])
        if template == "/hosts/{name}":
            return next((h for h in snap["hosts"] if h["Name"] == ref), MISSING)
        return MISSING


def _add(out: list, view, *args) -> None:
    try:
        out.append(view(*args))
    except Exception:  # noqa: BLE001 - a half-made object mid-change: not shown in the snapshot
        pass


def _find(items: list[dict], ref: str | None, name_of) -> Any:
    """By name, full id or unique id prefix, as the controller looks objects up; MISSING when the
    snapshot cannot say (the kernel thread's own answer, with its error words, is then awaited)."""
    if not ref:
        return MISSING
    by_name = [i for i in items if name_of(i) == ref]
    if len(by_name) == 1:
        return by_name[0]
    by_id = [i for i in items if i["Id"].startswith(ref)]
    return by_id[0] if len(by_id) == 1 else MISSING
