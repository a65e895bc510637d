"""Plugin processes the engine started (`cnmlab plugin run`): inside the lab world, never outside.

A Docker plugin runs on its host and makes interfaces in the host's namespace, so the engine
starts it as `ip netns exec HOST CMD...` from inside its own world. The engine is the parent and
keeps each process's Popen: it stops exactly the PIDs it started, and nothing else. They are
tied to the world three ways: `setpriv --pdeathsig TERM` (the kernel signals them when the
engine's kernel thread, their parent, goes away, even on kill -9), engine stop, and lab reset /
host removal (the namespace they served is gone).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import paths, plugins
from .errors import InvalidParameter, NotFound

STOP_GRACE = 3.0


@dataclass
class PluginProcess:
    pid: int
    host: str
    argv: list[str]
    log: str
    popen: subprocess.Popen = field(repr=False)
    started: float = field(default_factory=time.time)
    name: str | None = None  # the plugin name its socket or spec file announced, once seen

    def running(self) -> bool:
        return self.popen.poll() is None

    def to_json(self) -> dict:
        return {"Pid": self.pid, "Host": self.host, "Argv": self.argv, "Log": self.log, "Name": self.name,
                "Running": self.running(), "ExitCode": self.popen.returncode, "Started": self.started}


class Runner:
    def __init__(self, log_dir: Path | None = None):
        self.log_dir = Path(log_dir or paths.state_dir() / "plugins")
        self.processes: dict[int, PluginProcess] = {}

    def start(self, host: str, argv: list[str], cwd: str | None = None, env: dict | None = None) -> PluginProcess:
        """Start `argv` in `host`'s namespace. Call it from a thread that lives as long as the engine
        (the kernel thread): the parent-death signal fires when the forking thread exits."""
        if not argv or not all(isinstance(a, str) and a for a in argv):
            raise InvalidParameter("plugin run needs a command: cnmlab plugin run -- CMD [ARGS...]")
        if cwd and not os.path.isdir(cwd):
            cwd = None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{Path(argv[0]).name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        full_env = dict(env or os.environ)
        full_env["PATH"] = full_env.get("PATH", "") + ":/usr/sbin:/sbin"
        with open(log, "ab") as out:
            try:
                popen = subprocess.Popen(["setpriv", "--pdeathsig", "TERM", "--", "ip", "netns", "exec", host, *argv],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=cwd, env=full_env,
                                         start_new_session=True)
            except FileNotFoundError as exc:
                raise InvalidParameter(f"cannot start the plugin: {exc.filename} not found") from None
        proc = PluginProcess(popen.pid, host, list(argv), str(log), popen)
        self.processes[proc.pid] = proc
        return proc

    def wait_for_name(self, proc: PluginProcess, before: set[str], wait: float) -> str | None:
        """Watch discovery until a new plugin name appears (then it is this process's), the
        process exits, or `wait` seconds pass."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and proc.running():
            found = plugins.discover()
            new = sorted(n for n in set(found) - before - self.names() if _listening(found[n].address))
            if new:
                proc.name = new[0]
                return proc.name
            time.sleep(0.05)
        return None

    def names(self) -> set[str]:
        return {p.name for p in self.processes.values() if p.name and p.running()}

    def find(self, ref: str) -> PluginProcess:
        for proc in self.processes.values():
            if proc.name == ref or str(proc.pid) == ref:
                return proc
        raise NotFound(f"no plugin process {ref} started by `cnmlab plugin run` "
                       f"(running: {', '.join(self.describe_running()) or 'none'})")

    def describe_running(self) -> list[str]:
        return [f"{p.name or '?'} (pid {p.pid})" for p in self.processes.values() if p.running()]

    def stop(self, proc: PluginProcess) -> int | None:
        """SIGTERM, then SIGKILL after a grace period; reap it; remove its socket if it left one."""
        if proc.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.popen.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.popen.wait()
        self.processes.pop(proc.pid, None)
        if proc.name:
            self._remove_leftovers(proc.name)
        return proc.popen.returncode

    def stop_all(self, host: str | None = None) -> None:
        for proc in list(self.processes.values()):
            if host is None or proc.host == host:
                self.stop(proc)

    @staticmethod
    def _remove_leftovers(name: str) -> None:
        """A killed plugin cannot unlink its socket: remove what discovery would still find."""
        plugin = plugins.discover().get(name)
        if plugin is None:
            return
        for path in {plugin.address, plugin.source}:
            if path.startswith((plugins.SOCKET_DIR + "/", "/etc/docker/plugins/")):
                with contextlib.suppress(OSError):
                    os.unlink(path)


def _listening(address: str) -> bool:
    """The socket accepts connections: a plugin binds it before it listens, and a busy machine can
    stop it in between (a call then would be refused)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(address)
        except OSError:
            return False
    return True
