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
import time
from typing import TYPE_CHECKING

from . import image
from .errors import CnmError, Conflict, InvalidParameter, NotFound
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
        self.started_mono = 0.0  # time.monotonic() at the last start (the restart policy's backoff)
        self.delay = 0.0  # the restart policy's last delay
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
    rt.started_mono = time.monotonic()
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
    check_working_dir(c.working_dir)
    proc = SandboxProcess(sandbox_argv(c.netns, uts_of(c), image.userland(c.image, argv)), env, tty=c.tty,
                          stdin=c.open_stdin, cwd=c.working_dir)
    proc.on_output = lambda stream, data: _output(rt, c.tty, stream, data)
    proc.on_exit = lambda code: _exited(ctl, c.id, proc, code)
    proc.start()
    rt.started(proc)
    c.state.pid = proc.pid
    c.state.error = ""


def check_working_dir(path: str) -> None:
    """Docker makes a missing WorkingDir in the container's own file system; lab containers share
    the machine's, which the lab does not change."""
    if path and not os.path.isabs(path):
        raise InvalidParameter(f"the working directory '{path}' is invalid, it needs to be an absolute path")
    if path and not os.path.isdir(path):
        raise InvalidParameter(f"working directory {path} does not exist: lab containers share the machine's file "
                               "system (use a directory that exists, e.g. /tmp)")


def uts_of(c: Container) -> str | None:
    """The hostname's namespace: none in a host's namespace (host mode, or sharing a host-mode
    container's), else the sandbox's."""
    from .osl.netns import uts_path

    return None if c.netns == c.host else uts_path(c.netns)


def _output(rt: Runtime, tty: bool, stream: str, data: bytes) -> None:
    rt.log.write(stream, data, raw=tty)
    rt.output.publish((stream, data))


def _exited(ctl: Controller, cid: str, proc: SandboxProcess, code: int) -> None:
    """Runs on the process's waiter thread: the change itself goes to the kernel thread."""
    rt = ctl.runtime(cid)
    rt.log.flush()
    try:
        ctl.submit(ctl.main_exited, cid, proc, code, holds=_holds(ctl, cid))
    except RuntimeError:  # the engine is shutting down: the container comes back at the next start
        pass


def _holds(ctl: Controller, cid: str) -> list[str] | None:
    try:
        return ctl.container(cid).holds()
    except CnmError:  # gone meanwhile: whatever its exit touches, it waits for every parked change
        return None


# -- stop, kill, wait (callers' threads) -------------------------------------------------------
def stop(ctl: Controller, c: Container, timeout: float | None) -> bool:
    rt = ctl.runtime(c.id)
    if c.state.status == "restarting":
        ctl.submit(cancel_restart, ctl, c, holds=c.holds()).result()
        ctl.emit(ContainerStopped(container=c.name, id=c.id))
        return True
    if not c.running:
        return False
    c.manually_stopped = True  # before the signal: its exit must not wake the restart policy
    seen = rt.exits
    proc = rt.process
    if proc is None:  # the test services stand in: they stop at once, as a well-behaved server does
        ctl.submit(ctl.main_exited, c.id, None, 0, holds=c.holds()).result()
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
    if c.state.status == "restarting":  # Docker: the restart manager is told to give up
        cancel_restart(ctl, c)
        return
    if not c.running:
        raise Conflict(f"Cannot kill container: {c.name}: Container {c.id} is not running")
    ctl.emit(ContainerKilled(container=c.name, id=c.id, signal=number))
    c.manually_stopped = True
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
    if c.shared_with is not None:
        networked_container(ctl, c)
    for cfg in c.networks:
        if cfg.network not in ctl.networks:
            raise NotFound(f"network {cfg.network} not found: it was removed after the container was created")


# -- container:NAME: a sandbox shared with another container ----------------------------------
SHARED_CONFLICT = ("container sharing network namespace with another container or host cannot be connected to "
                   "any other network")


def check_shared_create(ctl: Controller, names: list[str], host: str | None, ports, hostname: str | None,
                        mac: str | None, ip: str | None, aliases, endpoint_configs) -> str:
    """`NetworkMode: container:NAME` at create, with Docker's checks (runconfig's
    validateNetContainerMode); returns the host: NAME's. Docker finds NAME only at start; the lab
    looks now, and a missing one is a 400, as a 404 from create makes the docker CLI pull."""
    ref = names[0].split(":", 1)[1]
    if not ref:
        raise InvalidParameter("Invalid network mode: invalid container format container:<name|id>")
    asked = {k: v for k, v in (endpoint_configs or {}).items() if k != names[0]}
    if len(names) > 1 or asked:
        raise InvalidParameter(SHARED_CONFLICT)
    try:
        target = ctl.container(ref)
    except NotFound as exc:
        raise InvalidParameter(exc.message) from None
    if host and host != target.host:
        raise InvalidParameter(f"container {target.name} is on host {target.host}: a container shares a sandbox "
                               "on its own host only")
    own = (endpoint_configs or {}).get(names[0]) or {}
    if hostname:
        raise InvalidParameter("conflicting options: hostname and the network mode")
    if mac or own.get("mac"):
        raise InvalidParameter("conflicting options: mac-address and the network mode")
    if ports:
        raise InvalidParameter("conflicting options: port publishing and the container type network mode")
    if ip or own.get("ip"):
        raise InvalidParameter("user specified IP address is supported on user defined networks only")
    if aliases or own.get("aliases"):
        raise InvalidParameter("network-scoped alias is supported only for containers in user defined networks")
    return target.host


def networked_container(ctl: Controller, c: Container) -> Container:
    """The running container whose sandbox `c` joins at its start (Docker's getNetworkedContainer)."""
    ref = c.shared_with or ""
    target = ctl.container(ref)
    if target.id == c.id:
        raise InvalidParameter("cannot join own network")
    if target.state.status == "restarting":
        raise Conflict(f"Container {target.id} is restarting, wait until the container is running")
    if not target.running:
        raise Conflict(f"cannot join network of a non running container: {ref}")
    return target


def stays_exited(ctl: Controller, c: Container, exc: CnmError) -> None:
    """The engine starts again and a running container:NAME cannot join NAME (not running)."""
    from .clock import now
    from .events import StepDone

    c.state.status, c.state.pid, c.state.finished_at = "exited", 0, now()
    ctl.store.put(c)
    ctl.emit(StepDone(where=c.name, step=f"container {c.name} not restarted: {exc.message}"))


# -- restart policies: Docker's restart manager ------------------------------------------------
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
