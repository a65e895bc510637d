"""The reader path: `ps`, `network ls`, `inspect` and `host ls` answer while the kernel thread
is busy with a slow change or waits on a plugin.

Reads run on the kernel thread like everything else, so they see the lab exactly as the last
finished change left it. But a slow change (a big topology, a plugin that does not answer) would
hold them until it ends. So the kernel thread keeps a snapshot of what the read routes would
answer, taken where the lab is whole and every acknowledged change is in it:
- when it starts a plugin call (the plugin may keep it waiting for CNMLAB_PLUGIN_TIMEOUT);
- before it starts a change, if the lab changed (emitted events) since the last snapshot and a
  reader had to wait in the last few seconds (so a lab nobody reads pays nothing).
A read that finds the kernel thread busy is answered from a snapshot that holds every finished
change and every event sent so far; otherwise it waits for its turn, as before.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from .. import docker_views, plugins

POLL = 0.01  # seconds between "is there a snapshot to answer from?" looks, while a read waits
KEEP_SNAPSHOTS = 5.0  # seconds after a reader had to wait during which changes snapshot first
MISSING = object()


class Readers:
    def __init__(self, engine):
        self.engine = engine
        self.snapshot: dict[str, Any] | None = None
        self.in_change = False  # the kernel thread is running a change (not a read)
        self.wanted_until = 0.0  # monotonic time until which changes snapshot before they start
        self.events = 0  # events the lab has emitted (Engine.broadcast counts them)
        self.snapshot_events = -1
        plugins.WAITING.append(self._plugin_wait)

    def task(self, fn, *args, **kwargs):
        """A change, run on the kernel thread (Engine.call): snapshot first if readers want it."""
        # Only when the lab changed (it emitted events) since the last snapshot: a task that only
        # reads (the probes' look-ups) costs nothing.
        if self.events != self.snapshot_events and time.monotonic() < self.wanted_until:
            self._publish()
        self.in_change = True
        try:
            return fn(*args, **kwargs)
        finally:
            self.in_change = False

    def _plugin_wait(self, waiting: bool) -> None:
        if waiting and threading.current_thread().name.startswith("kernel") and self.in_change:
            # Mid-change, but between two steps: the object being made is left out if half made.
            self._publish()

    def _publish(self) -> None:
        if self.engine.controller is None:
            return
        self.snapshot = self._take()
        self.snapshot_events = self.events  # the lab as every event so far left it

    def _take(self) -> dict[str, Any]:
        """The read routes' answers, now. A half-made object (the plugin call is part of making it)
        is left out rather than failing the whole snapshot."""
        ctl = self.engine.controller
        snap: dict[str, Any] = {"networks": [], "containers": [], "summaries": [], "hosts": []}
        for net in list(ctl.networks.values()):
            _add(snap["networks"], docker_views.network, ctl, net)
        for c in list(ctl.containers.values()):
            _add(snap["summaries"], docker_views.container_summary, ctl, c)
            _add(snap["containers"], docker_views.container, ctl, c)
        for name in list(ctl.hosts):
            _add(snap["hosts"], docker_views.host, ctl, name)
        return snap

    def call(self, route, req):
        """Run a read route on the kernel thread, or answer from a snapshot while a change runs."""
        future = self.engine.kernel.submit(route.handler, req)
        while True:
            try:
                return future.result(timeout=POLL)
            except FutureTimeout:
                self.wanted_until = time.monotonic() + KEEP_SNAPSHOTS
                # A client that saw an event expects its read to show that change: a snapshot
                # older than the latest event would not.
                if self.in_change and self.snapshot is not None and self.snapshot_events == self.events:
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
