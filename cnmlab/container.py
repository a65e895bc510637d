"""A container's life cycle, Docker's way: created -> running -> exited (-> running ...) -> removed.

- create records the container (what it asked for: image, command, networks, ports); nothing
  is built yet.
- start builds the sandbox, joins its networks in order (taking dynamic addresses afresh),
  publishes its ports and starts the main process (Entrypoint + Cmd, process.py). Without a
  command of its own the lab's test services stand in: they have no process.
- When the main process exits, the container is `exited` with its exit code, and its ports,
  endpoints (their addresses go back to IPAM) and sandbox are released, as Docker releases them.
- stop sends SIGTERM, then SIGKILL after the timeout; kill sends one signal; restart is stop then
  start; wait blocks until the container is not running (or next exits, or is removed).

Changes run on the kernel thread. stop, restart and wait block until the process has gone, so
they run on the caller's thread (an HTTP thread) and hand their changes to the kernel thread
through `ctl.submit`. A `Runtime` holds what only a running engine has: the main process, the log
and the attached clients.
"""

from __future__ import annotations

import os
import queue
import signal as signals
import threading
from typing import TYPE_CHECKING

from . import image
from .errors import Conflict, InvalidParameter, NotFound
from .events import ContainerDied, ContainerKilled, ContainerStarted, ContainerStopped
from .logs import LogFile
from .process import SandboxProcess, sandbox_argv

if TYPE_CHECKING:
    from .controller import Controller
    from .sandbox import Container

STOP_TIMEOUT = 10  # seconds, Docker's default for `docker stop`
CONDITIONS = ("not-running", "next-exit", "removed")


class Output:
    """Clients attached to a container's output: each gets (stream, bytes), then None at its end."""

    def __init__(self) -> None:
        self._subscribers: set[queue.Queue] = set()
        self._lock = threading.Lock()

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue()
        with self._lock:
            self._subscribers.add(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            self._subscribers.discard(q)

    def publish(self, item) -> None:
        with self._lock:
            for q in self._subscribers:
                q.put(item)


class Runtime:
    """What a container has only while the engine runs: its main process, log, attached clients."""

    def __init__(self, log_path: str):
        self.process: SandboxProcess | None = None
        self.log = LogFile(log_path)
        self.output = Output()
        self.changed = threading.Condition()
        self.exits = 0  # how many times the main process has exited (wait's next-exit)
        self.removed = False
        # stdin an attached client sent before the main process started (`docker run -i`: attach
        # comes first), handed over at its start, as Docker's stdin pipe holds it
        self._stdin_lock = threading.Lock()
        self._early_stdin = b""
        self._early_eof = False

    def write_stdin(self, data: bytes) -> None:
        with self._stdin_lock:
            if self.process is None:
                self._early_stdin += data
                return
        self.process.write(data)

    def close_stdin(self) -> None:
        with self._stdin_lock:
            if self.process is None:
                self._early_eof = True
                return
        self.process.close_stdin()

    def started(self, process: SandboxProcess | None) -> None:
        with self._stdin_lock:
            self.process = process
            early, eof = self._early_stdin, self._early_eof
            self._early_stdin, self._early_eof = b"", False
        if process is not None:
            if early:
                process.write(early)
            if eof:
                process.close_stdin()

    def notify(self, exited: bool = False, removed: bool = False) -> None:
        with self.changed:
            self.exits += exited
            self.removed = self.removed or removed
            self.changed.notify_all()

    def wait_for(self, predicate, timeout: float | None = None) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)


def parse_signal(sig: str | int | None) -> int:
    """`KILL`, `SIGKILL`, `9`: Docker's ways of naming a signal."""
    if sig in (None, ""):
        return signals.SIGKILL
    text = str(sig).upper()
    if text.isdigit():
        number = int(text)
        if number in {s.value for s in signals.Signals}:
            return number
    else:
        name = text if text.startswith("SIG") else "SIG" + text
        if name in signals.Signals.__members__:
            return signals.Signals[name].value
    raise InvalidParameter(f"Invalid signal: {sig}")


def main_argv(c: Container) -> list[str] | None:
    """Entrypoint + Cmd as the image's defaults complete them; None: the test services stand in."""
    return image.command(c.image, c.entrypoint, c.cmd)


# -- start ----------------------------------------------------------------------------------
def spawn_main(ctl: Controller, c: Container, rt: Runtime) -> None:
    """Start the main process (kernel thread). A command that is not there fails the start as
    Docker's does (exit code 127, the container stays as it was)."""
    argv = main_argv(c)
    if argv is None:
        rt.started(None)
        c.state.pid = 0
        return
    env = image.environment(c.env, c.hostname, c.tty)
    if image.find(argv[0], env) is None:
        c.state.exit_code = 127
        c.state.error = f'exec: "{argv[0]}": executable file not found in $PATH'
        raise InvalidParameter(f"failed to create task for container: failed to create shim task: OCI runtime "
                               f"create failed: runc create failed: unable to start container process: "
                               f"{c.state.error}: unknown")
    ctl.hooks.run(ctl.hooks.process_starting, c)  # e.g. the DNS rules a quick `getent` needs
    proc = SandboxProcess(sandbox_argv(c.netns, uts_of(c), image.userland(c.image, argv)), env, tty=c.tty,
                          stdin=c.open_stdin)
    proc.on_output = lambda stream, data: _output(rt, c.tty, stream, data)
    proc.on_exit = lambda code: _exited(ctl, c.id, proc, code)
    proc.start()
    rt.started(proc)
    c.state.pid = proc.pid
    c.state.error = ""


def uts_of(c: Container) -> str | None:
    from .osl.netns import uts_path

    return None if c.network_mode == "host" else uts_path(c.netns)


def _output(rt: Runtime, tty: bool, stream: str, data: bytes) -> None:
    rt.log.write(stream, data, raw=tty)
    rt.output.publish((stream, data))


def _exited(ctl: Controller, cid: str, proc: SandboxProcess, code: int) -> None:
    """Runs on the process's waiter thread: the change itself goes to the kernel thread."""
    rt = ctl.runtime(cid)
    rt.log.flush()
    try:
        ctl.submit(ctl.main_exited, cid, proc, code)
    except RuntimeError:  # the engine is shutting down: the container comes back at the next start
        pass


# -- stop, kill, wait (callers' threads) -------------------------------------------------------
def stop(ctl: Controller, c: Container, timeout: float | None) -> bool:
    rt = ctl.runtime(c.id)
    if not c.running:
        return False
    seen = rt.exits
    proc = rt.process
    if proc is None:  # the test services stand in: they stop at once, as a well-behaved server does
        ctl.submit(ctl.main_exited, c.id, None, 0).result()
    else:
        proc.signal(signals.SIGTERM)
        if proc.wait(STOP_TIMEOUT if timeout is None else max(timeout, 0)) is None:
            proc.signal(signals.SIGKILL)
            proc.wait()
        rt.wait_for(lambda: rt.exits > seen or rt.removed)
    ctl.emit(ContainerStopped(container=c.name, id=c.id))
    return True


def kill(ctl: Controller, c: Container, sig: str | int | None) -> None:
    """Send a signal (kernel thread). The stand-in ends on any signal that ends a process by default."""
    number = parse_signal(sig)
    if not c.running:
        raise Conflict(f"Cannot kill container: {c.name}: Container {c.id} is not running")
    ctl.emit(ContainerKilled(container=c.name, id=c.id, signal=number))
    proc = ctl.runtime(c.id).process
    if proc is not None:
        proc.signal(number)
    elif number not in (signals.SIGCHLD, signals.SIGCONT, signals.SIGURG, signals.SIGWINCH,
                        signals.SIGUSR1, signals.SIGUSR2, signals.SIGHUP):  # those a server takes in stride
        ctl.main_exited(c.id, None, 128 + number)


def wait(ctl: Controller, c: Container, condition: str, timeout: float | None, ready=None) -> int:
    if condition not in CONDITIONS:
        raise InvalidParameter(f"invalid condition: \"{condition}\" (one of {', '.join(CONDITIONS)})")
    rt = ctl.runtime(c.id)
    seen = rt.exits
    if ready is not None:  # the waiter is registered: Docker's client may start the container now
        ready()
    if condition == "removed":
        rt.wait_for(lambda: rt.removed, timeout)
    elif condition == "next-exit" or c.running:
        rt.wait_for(lambda: rt.exits > seen or rt.removed, timeout)
    return c.state.exit_code


def log_path(ctl: Controller, cid: str) -> str:
    return os.path.join(ctl.containers_dir, cid, f"{cid}-json.log")


def check_startable(ctl: Controller, c: Container) -> None:
    for cfg in c.networks:
        if cfg.network not in ctl.networks:
            raise NotFound(f"network {cfg.network} not found: it was removed after the container was created")
