"""A container's life cycle, Docker's way: created -> running -> exited (-> running ...) -> removed.

- create records the container (what it asked for: image, command, networks, ports); nothing
  is built yet.
- start builds the sandbox, joins its networks in order (taking dynamic addresses afresh),
  publishes its ports and starts the main process (Entrypoint + Cmd, process.py). Without a
  command of its own the lab's test services stand in: they have no process.
- When the main process exits, the container is `exited` with its exit code, and its ports,
  endpoints (their addresses go back to IPAM) and sandbox are released, as Docker releases them.
- stop sends SIGTERM, then SIGKILL after the timeout; kill sends one signal; restart is stop then
  start; wait blocks until the container is not running (or next exits, or is removed); its
  restart policy may start it again (restart.py).
- connect and disconnect change the networks it joins at every start, and, while it runs, its
  sandbox's; restore brings it back when the engine starts again.

As moby's daemon does (create.go, start.go, monitor.go, delete.go), these functions do the work
on the container they are given; the controller keeps the containers and the runtimes and looks
a container up for its callers. Changes run on the kernel thread. stop, restart and wait block until the process has gone, so
they run on the caller's thread (an HTTP thread) and hand their changes to the kernel thread
through `ctl.submit`. A `Runtime` holds what only a running engine has: the main process, the log
and the attached clients.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal as signals
import threading
import time
from typing import TYPE_CHECKING

from . import image, ports, restart
from .clock import now
from .errors import CnmError, Conflict, Forbidden, InvalidParameter, NotFound
from .events import (ContainerCreated, ContainerDied, ContainerKilled, ContainerRemoved, ContainerStarted,
                     ContainerRestarted, ContainerStopped, StepDone)
from .logs import LogFile
from .names import RESERVED_NAMESPACES, check_container_name, new_id, random_name
from .network import GW_NETWORK
from .process import SandboxProcess, sandbox_argv
from .sandbox import SHARED_PREFIX, Container, EndpointConfig, PortBinding, Sandbox, State, parse_port

if TYPE_CHECKING:
    from .controller import Controller
    from .endpoint import Endpoint
    from .network import Network

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

    def drop_process(self) -> None:
        """The engine stops or wipes the lab: the main process ends with no exit to report."""
        if self.process is not None:
            self.process.on_exit = lambda code: None
            self.process.signal(signals.SIGKILL)

    def end(self) -> None:
        """The container is gone: attached clients' streams end, the log goes, waiters learn it."""
        self.output.publish(None)
        self.log.remove()
        self.notify(removed=True)

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


# -- create ---------------------------------------------------------------------------------
def create(ctl: Controller, name: str | None = None, network: str | list[str] | None = None,
           ip: str | None = None, aliases: list[str] | None = None,
           ports: list[str | PortBinding] | None = None, host: str | None = None,
           labels: dict[str, str] | None = None, image: str = "", cmd: list[str] | None = None,
           entrypoint: list[str] | None = None, env: list[str] | None = None,
           hostname: str | None = None, tty: bool = False, open_stdin: bool = False,
           stdin_once: bool = False, auto_remove: bool = False, mac: str | None = None,
           endpoint_configs: dict[str, dict] | None = None,
           restart_policy: tuple[str, int] | None = None, working_dir: str = "") -> Container:
    """`docker create` (moby's daemon.create): check the request and record the container (state
    `created`); `start` builds it.

    `network` names every network to join, in order (Docker 25+ joins them all); `ip`,
    `aliases` and `mac` are for the first, `endpoint_configs` ({name: {"ip", "aliases", "mac"}})
    for any of them."""
    policy = restart.check_restart_policy(restart_policy, auto_remove)
    if working_dir and not working_dir.startswith("/"):
        raise InvalidParameter(f"the working directory '{working_dir}' is invalid, it needs to be an absolute path")
    name = name or random_name({c.name for c in ctl.containers.values()})
    check_container_name(name)
    existing = ctl.containers.by_name.get(name)
    if existing is not None:
        raise Conflict(f'Conflict. The container name "/{name}" is already in use by container '
                       f'"{existing.id}". You have to remove (or rename) that container to be able to reuse that name.')
    if name in ctl.hosts or name in RESERVED_NAMESPACES:
        raise Conflict(f"name {name} is taken by a host of the lab: hosts and containers share the namespace list")
    names = [network] if isinstance(network, str) else list(dict.fromkeys(network or []))
    shared = bool(names) and names[0].startswith(SHARED_PREFIX)  # container:NAME: no networks of its own
    if shared:
        host = check_shared_create(ctl, names, host, ports, hostname, mac, ip, aliases, endpoint_configs)
    host = ctl.docker_host(host).name
    nets = [] if shared else [ctl.network(n, host) for n in names] or [ctl.network("bridge", host)]
    if not names:
        ip = None  # `docker run --ip` without --network is silently ignored
    special = [n for n in nets if network_mode(ctl, n)]
    if special and len(nets) > 1:
        raise InvalidParameter(f"Container cannot be connected to network endpoints: {', '.join(names)}: "
                               f"{special[0].name} network mode cannot be combined with other networks")
    bindings = [p if isinstance(p, PortBinding) else parse_port(p) for p in ports or []]
    mode = names[0] if shared else network_mode(ctl, nets[0]) or nets[0].name
    if bindings and mode in ("host", "none"):
        raise InvalidParameter(f"ports cannot be published in {mode} network mode")
    configs = endpoint_configs or {}
    wanted = []
    for i, net in enumerate(nets):
        cfg = configs.get(names[i] if names else net.name) or configs.get(net.name) or {}
        first = i == 0
        wanted.append(EndpointConfig(network=net.id, ip=cfg.get("ip") or (ip if first else None),
                                     aliases=list(cfg.get("aliases") or (aliases if first else None) or []),
                                     mac=cfg.get("mac") or (mac if first else None)))
    cid = new_id()
    c = Container(id=cid, name=name, host=host, created=now(), network_mode=mode, ports=bindings,
                  labels=dict(labels or {}), networks=wanted, image=image or "", cmd=cmd,
                  entrypoint=entrypoint, env=list(env or []), hostname=hostname or cid[:12],
                  tty=tty, open_stdin=open_stdin, stdin_once=stdin_once, auto_remove=auto_remove,
                  restart_policy=policy[0], restart_retries=policy[1], working_dir=working_dir,
                  state=State())
    ctl.containers[cid] = c
    ctl.store.put(c)
    ctl.emit(ContainerCreated(container=name, id=cid, host=host))
    return c


def network_mode(ctl: Controller, net: Network) -> str | None:
    """"host" or "none" when the network is a whole network mode (its driver says so)."""
    return ctl.driver(net.driver).capabilities.network_mode


# -- start ----------------------------------------------------------------------------------
def run(ctl: Controller, name: str | None = None, **request) -> Container:
    """`docker run -d`: create and start, all or nothing (a failed start removes it again)."""
    c = create(ctl, name, **request)
    try:
        start(ctl, c)
    except BaseException:
        if c.id in ctl.containers:
            remove(ctl, c, force=True)
        raise
    return c


def start(ctl: Controller, c: Container, by_policy: bool = False) -> bool:
    """Build the sandbox (or join NAME's, `container:NAME`), join the networks, publish the
    ports, start the main process, all or nothing (kernel thread). False when it was running
    already (Docker answers 304); `by_policy`: the restart policy starts it."""
    if c.running or (c.state.status == "restarting" and not by_policy):
        return False
    try:
        _start(ctl, c, by_policy)
    except BaseException:
        if c.auto_remove and c.id in ctl.containers:  # as dockerd: a failed start removes an AutoRemove one
            remove(ctl, c, force=True)
        ctl.kernel.settle()  # the error goes out with the sandbox's unmounts done, not in a burst
        raise
    return True


def _start(ctl: Controller, c: Container, by_policy: bool) -> None:
    check_startable(ctl, c)
    rt = ctl.runtime(c.id)
    with ctl.store.batch(), contextlib.ExitStack() as undo:  # one commit for the endpoints and the container
        ports.check_free(ctl.containers.values(), c.host, c.ports, besides=c)
        sb = Sandbox(ctl, c)
        if c.shared_with is not None:
            sb.share(networked_container(ctl, c))
        else:
            sb.build(services=main_argv(c) is None)
        undo.callback(sb.delete)
        for cfg in c.networks:
            sb.join(ctl.networks[cfg.network], ip=cfg.ip, aliases=cfg.aliases, from_connect=cfg.from_connect,
                    mac=cfg.mac)
        sb.place_ports()
        spawn_main(ctl, c, rt)
        if not by_policy:  # a start by hand wakes the policy again
            c.manually_stopped, c.restart_count = False, 0
        c.state.status = "running"
        c.state.started_at = now()
        c.state.exit_code = 0
        ctl.store.put(c)
        undo.pop_all()
    ctl.emit(ContainerStarted(container=c.name, id=c.id, pid=c.state.pid))


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


# -- exit and removal (kernel thread) ----------------------------------------------------------
def main_exited(ctl: Controller, cid: str, proc: SandboxProcess | None, code: int) -> None:
    c = ctl.containers.get(cid)
    rt = ctl.runtimes.get(cid)
    if c is None or rt is None or not c.running or rt.process is not proc:
        return  # an old process of a container that has started again since, or is gone
    exited(ctl, c, rt, code)


def exited(ctl: Controller, c: Container, rt: Runtime, code: int) -> None:
    """The main process ended with `code`: release what the container held, as Docker does (its
    ports, endpoints and sandbox); its policy may start it again."""
    sb = ctl.sandboxes[c.id]
    sb.unpublish_ports()
    sb.delete()
    rt.process = None
    c.state.status, c.state.exit_code, c.state.pid, c.state.finished_at = "exited", code, 0, now()
    if restart.restarts(c, code):
        restart.schedule_restart(ctl, c, rt)
    ctl.store.put(c)
    rt.output.publish(None)  # attached clients' streams end with the container
    ctl.emit(ContainerDied(container=c.name, id=c.id, exit_code=code))
    rt.notify(exited=True)
    if c.auto_remove:
        remove(ctl, c, force=True)


def remove(ctl: Controller, c: Container, force: bool = False) -> None:
    if c.state.status == "restarting" and not force:
        raise Conflict(f"You cannot remove a restarting container {c.id}. Stop the container before "
                       "attempting removal or force remove")
    if c.running and not force:
        raise Conflict(f"You cannot remove a running container {c.id}. Stop the container before "
                       "attempting removal or force remove")
    rt = ctl.drop_runtime(c.id)
    if rt is not None and rt.process is not None:
        rt.process.signal(signals.SIGKILL)  # its exit finds the container gone and changes nothing
    with ctl.store.batch():  # one commit for the endpoints and the container
        sb = ctl.sandboxes.get(c.id)
        if sb is not None:
            sb.unpublish_ports()
            sb.delete()
        ctl.containers.pop(c.id, None)
        ctl.store.delete(c)
    if rt is not None:
        rt.end()
    ctl.emit(ContainerRemoved(container=c.name, id=c.id))


# -- networks: connect and disconnect ----------------------------------------------------------
def connect(ctl: Controller, c: Container, network: str, ip: str | None = None, aliases: list[str] | None = None,
            mac: str | None = None) -> Endpoint | None:
    """Join a running container now; a created or exited one joins at its next start (None)."""
    if c.shared_with is not None:
        raise InvalidParameter(SHARED_CONFLICT)
    net = ctl.network(network, c.host)
    if any(cfg.network == net.id for cfg in c.networks):
        raise Conflict(f"endpoint with name {c.name} already exists in network {net.name}")
    cfg = EndpointConfig(network=net.id, ip=ip, aliases=list(aliases or []), from_connect=True, mac=mac)
    ep = None
    if c.running:
        ep = ctl.sandboxes[c.id].join(net, ip=ip, aliases=aliases, from_connect=True, mac=mac)
    elif network_mode(ctl, net) or c.network_mode in ("host", "none"):
        raise Forbidden(f"container cannot be connected to network {net.name}: it is in {c.network_mode} "
                        "network mode, which cannot be combined with other networks")
    elif net.host is not None and net.host != c.host:
        raise InvalidParameter(f"network {net.name} is local to host {net.host}; container {c.name} is on {c.host}")
    c.networks.append(cfg)
    ctl.store.put(c)
    return ep


def disconnect(ctl: Controller, c: Container, network: str) -> None:
    net = ctl.network(network, c.host)
    if c.network_mode in ("host", "none") or network_mode(ctl, net):
        raise Forbidden(f"container cannot be disconnected from {c.network_mode} network or connected to it")
    kept = [cfg for cfg in c.networks if cfg.network != net.id]
    if not c.running:
        if len(kept) == len(c.networks):
            raise Forbidden(f"container {c.id} is not connected to network {net.name}")
        c.networks = kept
        ctl.store.put(c)
        return
    c.networks = kept
    sb = ctl.sandboxes[c.id]
    ep = sb.endpoint_on(net)
    if ep is None:
        raise Forbidden(f"container {c.name} is not connected to network {net.name}")
    if c.endpoints and c.endpoints[0] == ep.id:
        sb.unpublish_ports()
        c.ports = []
    ep.leave(sb, net, teardown=False)
    ctl.store.put(c)


# -- restore (the engine starts again) -----------------------------------------------------------
def drop_all(ctl: Controller) -> None:
    """A reset: every main process ends and every running sandbox goes (the kernel removes its links)."""
    for rt in list(ctl.runtimes.values()):  # HTTP threads may add one meanwhile (ctl.runtime())
        rt.drop_process()
        rt.end()
    ctl.runtimes.clear()
    for c in list(ctl.containers.values()):
        if not c.running:
            continue
        ctl.builtin_services.stop(c.netns)
        if c.network_mode != "host":
            ctl.kernel.delete_sandbox(c.netns)


def restore(ctl: Controller, c: Container, endpoints: dict[str, Endpoint]) -> None:
    """A running container comes back with its addresses and a new main process; a created or
    exited one is only its record again (its log stays), unless its policy starts it."""
    if not c.networks:  # a record from before containers kept their networks: its endpoints say
        c.networks = [EndpointConfig(network=ep.network_id, ip=ep.requested_ip, aliases=list(ep.aliases),
                                     from_connect=ep.from_connect)
                      for ep in (endpoints[e] for e in c.endpoints if e in endpoints)
                      if getattr(ctl.networks.get(ep.network_id), "name", None) != GW_NETWORK]
    ctl.containers[c.id] = c
    if not c.running:
        restart.restore_policy(ctl, c)  # e.g. `always`: started again once the lab is back
        return
    sb = Sandbox(ctl, c)
    if c.shared_with is not None:  # NAME was made first, so it is back already
        c.shares = ""
        try:
            sb.share(networked_container(ctl, c))
        except CnmError as exc:
            stays_exited(ctl, c, exc)
            return
    else:
        sb.build(services=main_argv(c) is None)
        order, c.endpoints = c.endpoints, []
        sb.restore([endpoints.get(e) for e in order])
    try:
        spawn_main(ctl, c, ctl.runtime(c.id))
        c.state.started_at = now()
    except CnmError as exc:  # its command is gone from the machine: it stays, exited
        ctl.emit(StepDone(where=c.name, step=f"container {c.name} not restarted: {exc.message}"))
        ctl.submit(ctl.main_exited, c.id, None, 127, holds=c.holds())
    ctl.store.put(c)


# -- stop, kill, wait (callers' threads) -------------------------------------------------------
def stop(ctl: Controller, c: Container, timeout: float | None) -> bool:
    rt = ctl.runtime(c.id)
    if c.state.status == "restarting":
        ctl.submit(restart.cancel_restart, ctl, c, holds=c.holds()).result()
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


def restart_by_hand(ctl: Controller, c: Container, timeout: float | None) -> None:
    """`docker restart`: stop (if running), then start again (callers' threads)."""
    stop(ctl, c, timeout)
    ctl.submit(ctl.start_container, c.id, holds=c.holds()).result()
    ctl.emit(ContainerRestarted(container=c.name, id=c.id))


def kill(ctl: Controller, c: Container, sig: str | int | None) -> None:
    """Send a signal (kernel thread). The stand-in ends on any signal that ends a process by default."""
    number = parse_signal(sig)
    if c.state.status == "restarting":  # Docker: the restart manager is told to give up
        restart.cancel_restart(ctl, c)
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
    c.state.status, c.state.pid, c.state.finished_at = "exited", 0, now()
    ctl.store.put(c)
    ctl.emit(StepDone(where=c.name, step=f"container {c.name} not restarted: {exc.message}"))
