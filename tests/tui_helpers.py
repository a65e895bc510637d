"""Helpers for the TUI tests: wait for the app (with a deadline, never a fixed sleep) and read it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time


async def until(pilot, condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            said = [n.message for n in pilot.app._notifications]
            raise AssertionError(f"timed out waiting for {what} (the app said: {said})")
        await pilot.pause(0.05)


def plain(widget) -> str:
    """The text a widget shows (a Static's content), without styles."""
    content = widget.render()
    return str(getattr(content, "plain", content))


def tree_labels(tree) -> list[str]:
    out = []

    def walk(node):
        for child in node.children:
            out.append(str(child.label.plain if hasattr(child.label, "plain") else child.label))
            walk(child)

    walk(tree.root)
    return out


def build_fixed_topology(client) -> None:
    """The chapter's figure plus a third sandbox on net-b, with fixed subnets and bridge names so
    every address, MAC and rule text is the same on every run (for snapshots)."""
    client.network_create("net-a", subnet="172.18.0.0/16",
                          options={"com.docker.network.bridge.name": "br-net-a"})
    client.network_create("net-b", subnet="172.19.0.0/16",
                          options={"com.docker.network.bridge.name": "br-net-b"})
    client.run("container-a", network="net-a")
    client.run("container-b", network="net-a")
    client.connect("net-b", "container-b")
    client.run("container-c", network="net-b")


def stop_tmux(server: str) -> None:
    """End a private tmux server (`tmux -L server`) and remove its socket: tmux 3.3 leaves it in
    /tmp/tmux-UID after kill-server, one file per test run."""
    subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True, check=False)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(os.environ.get("TMUX_TMPDIR") or "/tmp", f"tmux-{os.getuid()}", server))
