"""Restart policies, Docker's restart manager: `no`, `always`, `unless-stopped`, `on-failure[:N]`.

When a container's main process exits (container.py: `exited`), its policy may start it again
after a delay that doubles per restart (from FIRST_DELAY up to MAX_DELAY, starting over once a
run lasted STEADY seconds); meanwhile the container is `restarting`. A stop or kill by hand rests
the policy until the next start by hand; when the engine starts again, the policy decides which
exited containers start with it (dockerd's restore).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from .errors import CnmError, InvalidParameter

if TYPE_CHECKING:
    from .container import Runtime
    from .controller import Controller
    from .sandbox import Container

POLICIES = ("no", "always", "unless-stopped", "on-failure")
FIRST_DELAY, MAX_DELAY, STEADY = 0.1, 60.0, 10.0  # s: the delay doubles per restart, and starts over
# at FIRST_DELAY once a run lasted STEADY seconds


def check_restart_policy(policy: tuple[str, int] | None, auto_remove: bool) -> tuple[str, int]:
    """Docker's checks of HostConfig.RestartPolicy; ("no", 0) when none is asked."""
    name, count = policy or ("", 0)
    if name in ("", "no", "always", "unless-stopped"):
        if count:
            raise InvalidParameter(f"maximum retry count cannot be used with restart policy '{name}'")
    elif name == "on-failure":
        if count < 0:
            raise InvalidParameter("maximum retry count cannot be negative")
    else:
        raise InvalidParameter(f"invalid restart policy '{name}' (one of {', '.join(POLICIES)}[:N])")
    if auto_remove and name not in ("", "no"):
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    return name or "no", count


def restarts(c: Container, code: int) -> bool:
    """Whether the policy starts the container again after its main process exited with `code`.
    A stop or kill by hand rests every policy until the next start by hand."""
    if c.manually_stopped:
        return False
    if c.restart_policy in ("always", "unless-stopped"):
        return True
    if c.restart_policy == "on-failure":
        return code != 0 and (not c.restart_retries or c.restart_count < c.restart_retries)
    return False


def schedule_restart(ctl: Controller, c: Container, rt: Runtime) -> None:
    """The container is `restarting`: after the delay, the kernel thread starts it again, unless
    it was stopped, killed, started or removed meanwhile (kernel thread)."""
    ran = time.monotonic() - rt.started_mono
    rt.delay = FIRST_DELAY if not rt.delay or ran >= STEADY else min(rt.delay * 2, MAX_DELAY)
    c.restart_count += 1
    c.state.status = "restarting"
    _restart_later(ctl, c, rt.delay)


def _restart_later(ctl: Controller, c: Container, delay: float) -> None:
    count = c.restart_count

    def due() -> None:
        try:
            ctl.submit(restart_by_policy, ctl, c.id, count, holds=c.holds())
        except RuntimeError:  # the engine is shutting down: the policy acts again at its next start
            pass

    timer = threading.Timer(delay, due)
    timer.daemon = True
    timer.start()


def restart_by_policy(ctl: Controller, cid: str, count: int) -> None:
    c = ctl.containers.get(cid)
    if c is None or c.state.status != "restarting" or c.restart_count != count:
        return
    try:
        ctl.start_container(cid, by_policy=True)
    except CnmError as exc:  # e.g. its network is gone: it stays exited, saying why
        c.state.status, c.state.error = "exited", exc.message
        ctl.store.put(c)


def cancel_restart(ctl: Controller, c: Container) -> None:
    """stop or kill while the policy waits to restart: the container stays exited (kernel thread)."""
    c.manually_stopped = True
    c.state.status = "exited"
    ctl.store.put(c)


def restart_at_engine_start(c: Container) -> bool:
    """An exited container the policy starts when the engine starts (dockerd's restore):
    `always` even after a stop by hand, `unless-stopped` unless so stopped, `on-failure` after a
    failure with retries left."""
    if c.state.status == "restarting" or c.restart_policy == "always":
        return True
    if c.restart_policy == "unless-stopped":
        return not c.manually_stopped
    return c.restart_policy == "on-failure" and c.state.exit_code != 0 and \
        (not c.restart_retries or c.restart_count < c.restart_retries)


def restore_policy(ctl: Controller, c: Container) -> None:
    """The engine starts again with this container not running: its policy may start it."""
    if restart_at_engine_start(c):
        c.state.status = "restarting"
        _restart_later(ctl, c, FIRST_DELAY)


def update_restart_policy(ctl: Controller, c: Container, name: str, count: int) -> None:
    """`docker update --restart` (kernel thread)."""
    if c.auto_remove and name not in ("", "no"):
        raise InvalidParameter("Restart policy cannot be updated because AutoRemove is enabled for the container")
    c.restart_policy, c.restart_retries = check_restart_policy((name, count), False)
    ctl.store.put(c)
